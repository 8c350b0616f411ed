import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AttemptAck, AttemptResult, AttemptStarted, RunView } from '@vmfarm/protocol';
import { Caller } from '../auth/caller';
import { notFound } from '../errors';
import { EventsService } from '../events/events.service';
import { ImagesRepository } from '../store/images.repository';
import { RunsRepository, type ArtifactRow } from '../store/runs.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { ARTIFACT_STORE } from '../tokens';
import { RunCompletion } from '../triage/completion';
import type { ArtifactStore } from './artifact-store';
import { nextState, outcomeOf, uniformVerdicts } from './outcome';

/** type/subtype[; parameters] without control characters: anything else is served as bytes. */
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/;

@Injectable()
export class RunsService {
  private readonly log = new Logger('RunsService');

  constructor(
    private readonly runs: RunsRepository,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
    private readonly images: ImagesRepository,
    private readonly events: EventsService,
    private readonly completion: RunCompletion,
  ) {}

  /** Tells event subscribers; in the background, so that an agent's call never waits on Redis. */
  private announce(runId: string): void {
    this.view(runId, Caller.system())
      .then((view) => this.events.runChanged(view))
      .catch((err: Error) => this.log.warn(`run ${runId}: event not published: ${err.message}`));
  }

  private async run(id: string) {
    const run = await this.runs.get(id);
    if (!run) throw notFound(`no run ${id}`);
    return run;
  }

  /** 404 for a run of a matrix the caller may not see. */
  private async visible(id: string, caller: Caller) {
    const run = await this.runs.visible(id, caller);
    if (!run) throw notFound(`no run ${id}`);
    return run;
  }

  async view(id: string, caller: Caller): Promise<RunView> {
    const run = await this.visible(id, caller);
    const [attempts, verdicts, artifacts] = await Promise.all([
      this.runs.attempts(id),
      this.runs.finalVerdicts([run]),
      this.runs.artifacts(id),
    ]);
    return {
      id: run.id,
      matrixId: run.matrixId,
      image: run.image,
      target: run.targetId,
      targetKind: run.job.target.kind,
      suite: run.suite,
      state: run.state,
      verdict: run.verdict,
      attempts: attempts.map(({ runId: _r, ...a }) => a),
      verdicts: verdicts.get(id) ?? [],
      artifacts: artifacts.map(({ path: _p, ...a }) => a),
      createdAt: run.createdAt,
      finishedAt: run.finishedAt,
    };
  }

  /** One stored artifact of an attempt, to stream. */
  async artifact(
    runId: string,
    attempt: number,
    name: string,
    caller: Caller,
  ): Promise<{ name: string; mediaType: string; size: number; stream: Readable }> {
    await this.visible(runId, caller);
    const row = (await this.runs.artifacts(runId)).find((a) => a.attempt === attempt && a.name === name);
    const stream = row && (await this.artifacts.open(row.path));
    if (!row || !stream) throw notFound(`run ${runId} has no artifact ${name} from attempt ${attempt}`);
    const mediaType = MEDIA_TYPE.test(row.mediaType) ? row.mediaType : 'application/octet-stream';
    return { name, mediaType, size: row.size, stream };
  }

  /** Attempt n begins; a run already done tells the agent not to bother. */
  async startAttempt(runId: string, attempt: number, agentId: string): Promise<AttemptStarted> {
    const run = await this.run(runId);
    if (run.state === 'done') return { proceed: false, state: 'done' };
    await this.runs.startAttempt(runId, attempt, agentId, new Date().toISOString());
    this.announce(runId);
    return { proceed: true, state: 'running' };
  }

  /** Records an attempt's result once: a repeat, or a result for a run already done, changes nothing. */
  async recordResult(runId: string, attempt: number, result: AttemptResult): Promise<AttemptAck> {
    const run = await this.run(runId);
    if (run.state === 'done') return { recorded: false, retry: false };
    const previous = await this.runs.attempt(runId, attempt);
    if (previous?.finishedAt)
      return { recorded: false, retry: previous.outcome === 'ERROR' && run.state === 'retrying' };
    const outcome = outcomeOf(result);
    const { state, retry } = nextState(outcome, attempt);
    const verdicts =
      result.verdicts.length > 0
        ? result.verdicts
        : uniformVerdicts(
            run.suite,
            this.suites.get(run.suite)?.clauses ?? [],
            'ERROR',
            result.error ?? 'the attempt reported no verdicts',
          );
    const artifacts: ArtifactRow[] = [];
    for (const a of result.artifacts) {
      const bytes = Buffer.from(a.contentBase64, 'base64');
      const path = await this.artifacts.write(runId, attempt, a.name, bytes);
      artifacts.push({ attempt, name: a.name, mediaType: a.mediaType, size: bytes.length, path });
    }
    const recorded = await this.runs.recordAttempt({
      runId,
      attempt,
      agentId: result.agentId,
      outcome,
      error: result.error ?? null,
      durationMs: result.durationMs,
      verdicts,
      artifacts,
      runState: state,
      runVerdict: state === 'done' ? outcome : null,
      at: new Date().toISOString(),
    });
    if (recorded && result.image?.arch) await this.images.setArchIfUnknown(run.image, result.image.arch);
    if (recorded) this.announce(runId);
    if (recorded && state === 'done') this.completion.runDone(run.matrixId);
    return recorded ? { recorded: true, retry } : { recorded: false, retry: false };
  }

  /** A cell planned as SKIP (see planMatrix): done at once with the reason, as attempt 1 of no agent. */
  async recordPlanSkip(
    runId: string,
    matrixId: string,
    suite: string,
    reason: string,
    at: string,
  ): Promise<boolean> {
    const recorded = await this.runs.recordAttempt({
      runId,
      attempt: 1,
      agentId: null,
      outcome: 'SKIP',
      error: null,
      durationMs: 0,
      verdicts: uniformVerdicts(suite, this.suites.get(suite)?.clauses ?? [], 'SKIP', `not run: ${reason}`),
      artifacts: [],
      runState: 'done',
      runVerdict: 'SKIP',
      at,
    });
    if (recorded) this.completion.runDone(matrixId);
    return recorded;
  }

  /**
   * BullMQ gave up on a job (attempts exhausted, stalled too often) or lost it after it finished:
   * unless a final result is recorded, the run ends as ERROR with the reason.
   */
  async recordQueueFailure(runId: string, reason: string): Promise<boolean> {
    const run = await this.runs.get(runId);
    if (!run || run.state === 'done') return false;
    const attempts = await this.runs.attempts(runId);
    const last = attempts.at(-1);
    const attempt = last && !last.finishedAt ? last.attempt : Math.max(run.attempts, last?.attempt ?? 0) + 1;
    const message = `the queue gave up on this run: ${reason}`;
    const recorded = await this.runs.recordAttempt({
      runId,
      attempt,
      agentId: last && !last.finishedAt ? last.agentId : null,
      outcome: 'ERROR',
      error: message,
      durationMs: null,
      verdicts: uniformVerdicts(run.suite, this.suites.get(run.suite)?.clauses ?? [], 'ERROR', message),
      artifacts: [],
      runState: 'done',
      runVerdict: 'ERROR',
      at: new Date().toISOString(),
    });
    if (recorded) {
      this.log.warn(`run ${runId} recorded ERROR: ${message}`);
      this.announce(runId);
      this.completion.runDone(run.matrixId);
    }
    return recorded;
  }
}
