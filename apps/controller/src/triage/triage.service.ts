import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { MatrixTriage, RunJobData, TriagedRegressions } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import { Caller } from '../auth/caller';
import { notFound } from '../errors';
import { EventsService } from '../events/events.service';
import { matrixEvent } from '../events/frames';
import { compareMatrices } from '../history/analysis';
import type { RunQueue } from '../queue/run-queue';
import { HistoryRepository } from '../store/history.repository';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository, type MatrixRow } from '../store/matrices.repository';
import { PoliciesRepository } from '../store/policies.repository';
import { RunsRepository, type NewRun, type RunRow } from '../store/runs.repository';
import { SettlementsRepository } from '../store/settlements.repository';
import { RUN_QUEUE } from '../tokens';
import { RunCompletion } from './completion';
import { KnownIssuesService } from './known-issues.service';
import { NotificationsService, type FarmEvent } from './notifications.service';
import { retriesFor } from './retention';
import { flakyCells, retryDepth, runsToRetry, type SettlementRun } from './settlement';

/** How often matrices done but not settled (a controller stopped in between) are looked for. */
const SWEEP_MS = 60_000;

/**
 * Settles matrices once all their runs are done. A scheduled matrix is compared with its
 * schedule's previous finished one; a cell going PASS → FAIL (no known issue explaining it) or
 * PASS → ERROR is re-run (as many times as the retry policy says, once by default) before
 * anything is reported; a retry that passes makes the cell flaky. Then the matrix is settled:
 * matrix done, regressions and fixes are notified, once, whichever controller gets there first.
 */
@Injectable()
export class TriageService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Triage');
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly completion: RunCompletion,
    private readonly matrices: MatricesRepository,
    private readonly runs: RunsRepository,
    private readonly history: HistoryRepository,
    private readonly images: ImagesRepository,
    private readonly settlements: SettlementsRepository,
    private readonly policies: PoliciesRepository,
    private readonly knownIssues: KnownIssuesService,
    private readonly notifications: NotificationsService,
    private readonly events: EventsService,
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
  ) {}

  onModuleInit(): void {
    this.completion.listen((id) => this.matrixDone(id));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.sweep();
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((err: Error) => this.log.warn(`sweep: ${err.message}`))
        .finally(() => (this.sweeping = undefined));
    }, SWEEP_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Settles what a stopped controller left done but unsettled. */
  async sweep(): Promise<void> {
    for (const id of await this.settlements.unsettled(100)) await this.matrixDone(id);
  }

  private async settlementRuns(runs: readonly RunRow[]): Promise<SettlementRun[]> {
    const names = new Map(
      (await this.images.getMany([...new Set(runs.map((r) => r.image))], Caller.system())).map((i) => [
        i.sha256,
        i.name,
      ]),
    );
    return runs.map((r) => ({
      id: r.id,
      retryOf: r.retryOf,
      verdict: r.verdict,
      imageName: names.get(r.image) ?? r.image.slice(0, 12),
      targetId: r.targetId,
      suite: r.suite,
    }));
  }

  private async compare(
    matrix: MatrixRow,
  ): Promise<{ comparison: TriagedRegressions; previous?: MatrixRow }> {
    const system = Caller.system();
    const [previous] = matrix.scheduleId
      ? await this.matrices.finishedOfSchedule(matrix.scheduleId, system, 1, matrix.createdAt)
      : [];
    const rows = async (m: MatrixRow) => ({
      matrixId: m.id,
      at: m.createdAt,
      rows: await this.history.clauseVerdicts({ matrixIds: [m.id] }, 1, system),
    });
    const latest = await rows(matrix);
    const matcher = await this.knownIssues.matcher();
    const tags = await this.knownIssues.tagsOf(latest.rows.map((r) => r.imageSha256));
    const comparison = compareMatrices(
      latest,
      previous ? await rows(previous) : null,
      KnownIssuesService.explainer(matcher, tags),
    );
    return { comparison, previous };
  }

  /** Called whenever a run of the matrix is done: acts once the last one is. */
  async matrixDone(matrixId: string): Promise<void> {
    const matrix = await this.matrices.get(matrixId, Caller.system());
    if (!matrix) return;
    const runs = await this.runs.listByMatrix(matrixId);
    if (runs.length === 0 || runs.some((r) => r.state !== 'done')) return;
    const byId = new Map(runs.map((r) => [r.id, r]));
    const round = Math.max(...runs.map((r) => retryDepth(r.id, byId)));
    if ((await this.settlements.rounds(matrixId)).some((r) => r.round >= round)) return;

    const { comparison, previous } = await this.compare(matrix);
    const settlementRuns = await this.settlementRuns(runs);
    // A cancelled matrix is reported as it stands: nobody wants it run again.
    const retries =
      matrix.scheduleId && previous && !matrix.cancelled
        ? retriesFor(await this.policies.list(Caller.system()), matrix.scheduleId, matrix.owner)
        : 0;
    const retry = runsToRetry(comparison, settlementRuns, retries);
    const now = new Date().toISOString();
    if (retry.length > 0) {
      let seq = Math.max(...runs.map((r) => r.seq));
      const added: NewRun[] = retry.map((id) => {
        const job: RunJobData = { ...byId.get(id)!.job, runId: randomUUID() };
        return { id: job.runId, matrixId, seq: ++seq, job, createdAt: now, retryOf: id };
      });
      if (!(await this.settlements.retry(matrixId, round, added, now))) return;
      this.log.log(`matrix ${matrixId}: re-running ${added.length} cell(s) before calling a regression`);
      try {
        await this.queue.enqueue(added.map((r) => r.job));
      } catch (err) {
        this.log.warn(
          `matrix ${matrixId}: queueing retries failed, reconciliation will: ${(err as Error).message}`,
        );
      }
      this.events
        .matrixChanged(matrixId)
        .catch((err: Error) => this.log.warn(`matrix ${matrixId}: event not published: ${err.message}`));
      return;
    }

    comparison.flaky = flakyCells(settlementRuns);
    const final = runs.filter((r) => !runs.some((x) => x.retryOf === r.id));
    const counts = matrixEvent(matrixId, final).counts;
    const scope = { tenant: matrix.owner, scheduleId: matrix.scheduleId };
    const ref = { matrixId, previousMatrixId: previous?.id ?? null, scheduleId: matrix.scheduleId };
    const events: FarmEvent[] = [
      {
        event: 'matrix.done',
        ...scope,
        data: {
          matrix: {
            id: matrixId,
            createdAt: matrix.createdAt,
            scheduleId: matrix.scheduleId,
            owner: matrix.owner,
          },
          counts,
          regressions: comparison.regressions.length,
          fixes: comparison.fixes.length,
          known: comparison.known.length,
          errors: comparison.errors.length,
          flaky: comparison.flaky.length,
          retried: runs.filter((r) => r.retryOf !== null).length,
        },
      },
    ];
    if (comparison.regressions.length > 0)
      events.push({ event: 'regression', ...scope, data: { ...ref, regressions: comparison.regressions } });
    if (comparison.fixes.length > 0)
      events.push({ event: 'fix', ...scope, data: { ...ref, fixes: comparison.fixes } });
    const deliveries = (
      await Promise.all(events.map((e) => this.notifications.deliveriesFor(e, now)))
    ).flat();
    const outcome = { ...comparison, counts };
    if (await this.settlements.settle(matrixId, round, outcome, deliveries, now)) this.notifications.kick();
  }

  /** `GET /api/matrices/:id/triage`: per run, retries, flakiness and what known issues explain. */
  async matrixTriage(matrixId: string, caller: Caller): Promise<MatrixTriage> {
    const matrix = await this.matrices.get(matrixId, caller);
    if (!matrix) throw notFound(`no matrix ${matrixId}`);
    const runs = await this.runs.listByMatrix(matrixId);
    const verdicts = await this.runs.finalVerdicts(runs);
    const images = new Map(
      (await this.images.getMany([...new Set(runs.map((r) => r.image))], Caller.system())).map((i) => [
        i.sha256,
        i,
      ]),
    );
    const explained = KnownIssuesService.annotate(
      await this.knownIssues.matcher(),
      runs.map((r) => ({ id: r.id, image: r.image, targetId: r.targetId, matrixOwner: matrix.owner })),
      verdicts,
      images,
    );
    const supersededBy = new Map(runs.flatMap((r) => (r.retryOf ? [[r.retryOf, r.id] as const] : [])));
    const flaky = new Set(flakyCells(await this.settlementRuns(runs)).map((f) => f.runId));
    const rounds = await this.settlements.rounds(matrixId);
    const last = rounds.at(-1);
    return {
      matrixId,
      settlement: last
        ? {
            state: last.state,
            round: last.round,
            retried: rounds.reduce((n, r) => n + r.retried, 0),
            at: last.at,
          }
        : null,
      cells: runs.map((r) => ({
        runId: r.id,
        retryOf: r.retryOf,
        supersededBy: supersededBy.get(r.id) ?? null,
        flaky: flaky.has(r.id),
        ...KnownIssuesService.split(verdicts.get(r.id) ?? [], explained.get(r.id) ?? []),
      })),
    };
  }
}
