import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { TargetKind } from '@vmfarm/protocol';
import { Periodic } from '../periodic';
import type { RunQueue } from '../queue/run-queue';
import { RunsRepository } from '../store/runs.repository';
import { RUN_QUEUE } from '../tokens';
import { RunsService } from './runs.service';

/** How often SQL and BullMQ are compared while running (start-up always compares once). */
const RECONCILE_EVERY_MS = 60_000;

/**
 * Nothing lost: SQL is the truth about runs. A run not done whose job Redis lost is re-added under
 * the same job id; a job BullMQ gave up on (or finished without a result) ends its run as ERROR.
 */
@Injectable()
export class ReconcileService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Reconcile');
  private readonly periodic = new Periodic(
    () => this.reconcile(),
    (err) => this.log.warn(`reconciliation failed: ${err.message}`),
  );

  constructor(
    private readonly runs: RunsRepository,
    private readonly service: RunsService,
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.queue.onFinalFailure((runId, reason) => {
      this.service
        .recordQueueFailure(runId, reason)
        .catch((err: Error) => this.log.error(`run ${runId}: ${err.message}`));
    });
    await this.reconcile();
    this.periodic.start(RECONCILE_EVERY_MS);
  }

  onModuleDestroy(): Promise<void> {
    return this.periodic.stop();
  }

  /** Returns how many runs were re-queued and how many recorded as ERROR. */
  async reconcile(): Promise<{ requeued: number; failed: number }> {
    const missing = [];
    let failed = 0;
    for (const run of await this.runs.listUnfinished()) {
      const { state, failedReason } = await this.queue.jobState(run.targetKind as TargetKind, run.id);
      if (state === 'missing') missing.push(run.job);
      else if (state === 'failed')
        failed += Number(await this.service.recordQueueFailure(run.id, failedReason || 'job failed'));
      else if (state === 'completed')
        failed += Number(
          await this.service.recordQueueFailure(run.id, 'job completed without a recorded result'),
        );
    }
    // A run that ended meanwhile (a result, a cancel that also took its job away) stays ended.
    const still = await this.runs.unfinishedOf(missing.map((j) => j.runId));
    const requeue = missing.filter((j) => still.has(j.runId));
    if (requeue.length > 0) {
      await this.queue.enqueue(requeue);
      this.log.log(`re-queued ${requeue.length} run(s) missing from the queue`);
    }
    return { requeued: requeue.length, failed };
  }
}
