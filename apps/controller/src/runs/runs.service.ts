import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  verdictsFor,
  type AttemptAck,
  type AttemptResult,
  type AttemptStarted,
  type RunView,
} from '@vmfarm/protocol';
import { Caller } from '../auth/caller';
import { ApiHttpError, conflict, notFound } from '../errors';
import { EventsService } from '../events/events.service';
import { ImagesRepository } from '../store/images.repository';
import { RunsRepository, type ArtifactRow, type AttemptRecord, type RunRow } from '../store/runs.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { ARTIFACT_STORE } from '../tokens';
import { RunCompletion } from '../triage/completion';
import type { ArtifactStore } from './artifact-store';
import { nextState, outcomeOf } from './outcome';

/** The outcome of an attempt ended by a cancel (its run's verdict is SKIP). */
export const CANCELLED = 'cancelled';

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

  /**
   * Attempt n begins, held by `agentId` from now on; a run already done tells the agent not to
   * bother. An attempt another agent holds, or one older than the latest started, is a 409.
   */
  async startAttempt(runId: string, attempt: number, agentId: string): Promise<AttemptStarted> {
    const run = await this.run(runId);
    if (run.state === 'done') return { proceed: false, state: 'done' };
    const attempts = await this.runs.attempts(runId);
    const same = attempts.find((a) => a.attempt === attempt);
    if (same && same.agentId !== agentId)
      throw conflict(`attempt ${attempt} of run ${runId} is held by agent ${same.agentId ?? '(none)'}`);
    if (same?.finishedAt) return { proceed: false, state: run.state };
    const latest = Math.max(0, ...attempts.map((a) => a.attempt));
    if (!same && attempt < latest)
      throw conflict(`attempt ${attempt} of run ${runId} is stale: attempt ${latest} has started`);
    await this.runs.startAttempt(runId, attempt, agentId, new Date().toISOString());
    this.announce(runId);
    return { proceed: true, state: 'running' };
  }

  /**
   * Records an attempt's result, once, from the agent holding it: a result for an attempt never
   * started, held by another agent, or already finished (reported, cancelled, lost) is refused and
   * changes nothing.
   */
  async recordResult(runId: string, attempt: number, result: AttemptResult): Promise<AttemptAck> {
    const run = await this.run(runId);
    const held = await this.runs.attempt(runId, attempt);
    if (!held?.startedAt) {
      const started = (await this.runs.attempts(runId)).filter((a) => a.startedAt).map((a) => a.attempt);
      throw conflict(
        `attempt ${attempt} of run ${runId} was never started${started.length ? ` (started: ${started.join(', ')})` : ''}: nothing recorded`,
      );
    }
    if (held.agentId !== result.agentId)
      throw new ApiHttpError(
        403,
        `attempt ${attempt} of run ${runId} is held by agent ${held.agentId}, not ${result.agentId}: nothing recorded`,
      );
    if (held.finishedAt || run.state === 'done')
      throw conflict(
        `attempt ${attempt} of run ${runId} is already finished (${held.outcome ?? run.verdict}): nothing recorded`,
      );
    const outcome = outcomeOf(result);
    const { state, retry } = nextState(outcome, attempt);
    const verdicts =
      result.verdicts.length > 0
        ? result.verdicts
        : verdictsFor(
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
    // Another result, a cancel or the queue's verdict got there first.
    if (!recorded)
      throw conflict(`attempt ${attempt} of run ${runId} was finished meanwhile: nothing recorded`);
    if (result.image?.arch) await this.images.setArchIfUnknown(run.image, result.image.arch);
    this.announce(runId);
    if (state === 'done') this.completion.runDone(run.matrixId);
    return { recorded: true, retry };
  }

  /**
   * Ends runs not done as cancelled, in a few transactions however many there are: each on its open
   * attempt (an agent holds it: the agent stops it at its next heartbeat) or a new one, SKIP for
   * each clause with the reason. Returns the ids it ended (a run done meanwhile is left as it is).
   * No run events: the caller publishes the matrix's.
   */
  async cancelRuns(runs: readonly RunRow[], reason: string, at: string): Promise<Set<string>> {
    const open = runs.filter((r) => r.state !== 'done');
    const attempts = await this.runs.attemptsOf(open.map((r) => r.id));
    const records = open.map((run): AttemptRecord => {
      const own = attempts.get(run.id) ?? [];
      const held = own.find((a) => a.startedAt && !a.finishedAt);
      return {
        runId: run.id,
        attempt: held?.attempt ?? Math.max(0, run.attempts, ...own.map((a) => a.attempt)) + 1,
        agentId: held?.agentId ?? null,
        outcome: CANCELLED,
        error: null,
        durationMs: null,
        verdicts: verdictsFor(run.suite, this.suites.get(run.suite)?.clauses ?? [], 'SKIP', reason),
        artifacts: [],
        runState: 'done',
        runVerdict: 'SKIP',
        at,
      };
    });
    return this.runs.recordAttempts(records);
  }

  /**
   * A waiting run no online agent can take (placement, after its grace period): SKIP for each
   * clause with why, as an attempt of no agent. false when the run ended meanwhile.
   */
  async recordUnplaceable(run: RunRow, reason: string): Promise<boolean> {
    const own = await this.runs.attempts(run.id);
    const target = run.job.target.id;
    const recorded = await this.runs.recordAttempt({
      runId: run.id,
      attempt: Math.max(run.attempts, ...own.map((a) => a.attempt)) + 1,
      agentId: null,
      outcome: 'SKIP',
      error: null,
      durationMs: 0,
      verdicts: verdictsFor(
        run.suite,
        this.suites.get(run.suite)?.clauses ?? [],
        'SKIP',
        `target ${target} cannot run on any agent of this farm: ${reason}`,
        { target, reason },
      ),
      artifacts: [],
      runState: 'done',
      runVerdict: 'SKIP',
      at: new Date().toISOString(),
    });
    if (!recorded) return false;
    this.announce(run.id);
    this.completion.runDone(run.matrixId);
    return true;
  }

  /** The result of a cell planned as SKIP (see planMatrix): attempt 1 of no agent, with the reason. */
  planSkip(runId: string, suite: string, reason: string, at: string): AttemptRecord {
    return {
      runId,
      attempt: 1,
      agentId: null,
      outcome: 'SKIP',
      error: null,
      durationMs: 0,
      verdicts: verdictsFor(suite, this.suites.get(suite)?.clauses ?? [], 'SKIP', `not run: ${reason}`),
      artifacts: [],
      runState: 'done',
      runVerdict: 'SKIP',
      at,
    };
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
      verdicts: verdictsFor(run.suite, this.suites.get(run.suite)?.clauses ?? [], 'ERROR', message),
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
