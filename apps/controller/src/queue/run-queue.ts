import { Logger } from '@nestjs/common';
import { redisConnection } from '@vmfarm/host';
import {
  MAX_ATTEMPTS,
  queueName,
  refusalsOf,
  TARGET_KINDS,
  type RunJobData,
  type TargetKind,
} from '@vmfarm/protocol';
import { Queue, QueueEvents } from 'bullmq';

/** What the rest of the controller needs of BullMQ. */
export interface RunQueue {
  /** Adds run jobs (job id = run id: adding one that exists changes nothing). */
  enqueue(jobs: readonly RunJobData[]): Promise<void>;
  /** Resolves when Redis answers; rejects at once when it is not connected. */
  ping(): Promise<void>;
  /** Takes a run's job out of the queue unless an agent holds it (then false). */
  remove(kind: TargetKind, runId: string): Promise<boolean>;
  /** The BullMQ state of a run's job, `missing` when Redis has no such job. */
  jobState(kind: TargetKind, runId: string): Promise<{ state: string; failedReason?: string }>;
  /** The agents that took a run's job and handed it back because their host cannot run it. */
  refusals(kind: TargetKind, runId: string): Promise<Record<string, string>>;
  /** Calls back when a job failed for good (attempts exhausted, stalled too often). */
  onFinalFailure(handler: (runId: string, reason: string) => void): void;
  close(): Promise<void>;
}

export const JOB_OPTIONS = {
  attempts: MAX_ATTEMPTS,
  backoff: { type: 'fixed', delay: 1000 },
  // Kept for a while so that a re-add after a restart finds them and stays a no-op.
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** How long close() waits for Redis before dropping the connections (Redis may be the thing that is gone). */
const CLOSE_TIMEOUT_MS = 5000;

export class BullRunQueue implements RunQueue {
  private readonly logger = new Logger('RunQueue');
  private readonly lastLogged = new Map<string, number>();
  private readonly queues = new Map<TargetKind, Queue>();
  private readonly events: QueueEvents[] = [];

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {}

  /** Connection errors repeat many times a second while Redis is away: each is logged every 30 s at most. */
  private warn(message: string): void {
    const now = Date.now();
    if (now - (this.lastLogged.get(message) ?? 0) < 30_000) return;
    this.lastLogged.set(message, now);
    this.logger.warn(message);
  }

  private queue(kind: TargetKind): Queue {
    let q = this.queues.get(kind);
    if (!q) {
      // No offline queue: while Redis is away, a command fails at once instead of waiting for it
      // (a submit answers 503 rather than hang, and nothing is queued behind the caller's back).
      q = new Queue(queueName(kind), {
        connection: { ...redisConnection(this.redisUrl), enableOfflineQueue: false },
        prefix: this.prefix,
      });
      q.on('error', (err) => this.warn(`queue ${kind}: ${err.message}`));
      this.queues.set(kind, q);
    }
    return q;
  }

  async enqueue(jobs: readonly RunJobData[]): Promise<void> {
    const byKind = new Map<TargetKind, RunJobData[]>();
    for (const job of jobs) byKind.set(job.target.kind, [...(byKind.get(job.target.kind) ?? []), job]);
    for (const [kind, list] of byKind)
      await this.queue(kind).addBulk(
        list.map((data) => ({ name: 'run', data, opts: { ...JOB_OPTIONS, jobId: data.runId } })),
      );
  }

  async ping(): Promise<void> {
    const client = (await this.queue(TARGET_KINDS[0]).client) as unknown as { ping(): Promise<string> };
    await client.ping();
  }

  async remove(kind: TargetKind, runId: string): Promise<boolean> {
    // 0: the job is locked (an agent runs it) or gone.
    return (await this.queue(kind).remove(runId)) === 1;
  }

  async jobState(kind: TargetKind, runId: string): Promise<{ state: string; failedReason?: string }> {
    const job = await this.queue(kind).getJob(runId);
    if (!job) return { state: 'missing' };
    const state = await job.getState();
    return { state: state === 'unknown' ? 'missing' : state, failedReason: job.failedReason };
  }

  async refusals(kind: TargetKind, runId: string): Promise<Record<string, string>> {
    return refusalsOf((await this.queue(kind).getJob(runId))?.progress);
  }

  onFinalFailure(handler: (runId: string, reason: string) => void): void {
    for (const kind of TARGET_KINDS) {
      const events = new QueueEvents(queueName(kind), {
        connection: redisConnection(this.redisUrl),
        prefix: this.prefix,
      });
      events.on('error', (err) => this.warn(`queue events ${kind}: ${err.message}`));
      events.on('failed', ({ jobId, failedReason }) => {
        // Only a job that is failed for good: a retried attempt goes back to waiting/delayed.
        void this.jobState(kind, jobId).then(
          ({ state }) => {
            if (state === 'failed') handler(jobId, failedReason);
          },
          (err: Error) => this.warn(`job ${jobId}: ${err.message}`),
        );
      });
      this.events.push(events);
    }
  }

  async close(): Promise<void> {
    const all = [...this.events, ...this.queues.values()];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS)),
    );
    const closed = Promise.all(all.map((c) => c.close())).then(() => false);
    if (await Promise.race([closed, timedOut])) {
      this.warn('Redis did not answer while closing: giving up on it');
      // disconnect() itself waits for a connection first, so it is not awaited.
      void Promise.all(all.map((c) => c.disconnect())).catch(() => undefined);
    }
    clearTimeout(timer);
  }
}
