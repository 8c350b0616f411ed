import { Logger } from '@nestjs/common';
import { redisConnection } from '@vmfarm/host';
import { LIMITS } from '@vmfarm/protocol';
import { defaultRepeatStrategy, Queue, Worker } from 'bullmq';
import type { FieldError } from '../errors';

/** BullMQ queue of the schedules' job schedulers (under the farm's queue prefix). */
export const SCHEDULES_QUEUE = 'schedules';

export type FireHandler = (scheduleId: string, dueAt: Date) => Promise<void>;

/** What SchedulesService needs of BullMQ's job schedulers. */
export interface Scheduler {
  /** Creates or replaces the job scheduler of a schedule. */
  upsert(scheduleId: string, cron: string, timezone: string): Promise<void>;
  remove(scheduleId: string): Promise<void>;
  /** The schedule ids that have a job scheduler. */
  ids(): Promise<string[]>;
  /** Starts taking fires: each due job calls the handler once (on one controller, whichever takes it). */
  start(handler: FireHandler): Promise<void>;
  close(): Promise<void>;
}

/** The next time `cron` fires after `from`, the way BullMQ computes it; throws on a bad pattern. */
export function nextFire(cron: string, timezone: string, from: Date): Date {
  const next = defaultRepeatStrategy(from.getTime(), { pattern: cron, tz: timezone });
  if (next === undefined || Number.isNaN(next)) throw new Error(`'${cron}' never fires`);
  return new Date(next);
}

/** Fires looked at for the shortest gap: more than a week of hourly fires. */
const GAP_FIRES = 200;

/**
 * The shortest time between two fires of `cron` over its next fires (a pattern that fires twice a
 * minute once a day is caught), stopping at the first gap under `atLeastSeconds`.
 */
export function shortestGapSeconds(
  cron: string,
  timezone: string,
  from: Date,
  atLeastSeconds: number,
): number {
  let shortest = Infinity;
  let previous = nextFire(cron, timezone, from);
  for (let i = 0; i < GAP_FIRES && shortest >= atLeastSeconds; i++) {
    const next = nextFire(cron, timezone, previous);
    shortest = Math.min(shortest, (next.getTime() - previous.getTime()) / 1000);
    previous = next;
  }
  return shortest;
}

/**
 * Problems with a cron pattern and time zone, as 400 field errors: a bad pattern or zone, or a
 * pattern firing more often than every `minSeconds` (VMFARM_MIN_SCHEDULE_SECONDS; 0: no minimum).
 */
export function cronErrors(
  cron: string | undefined,
  timezone: string | undefined,
  minSeconds = 0,
): FieldError[] {
  const errors: FieldError[] = [];
  if (timezone !== undefined)
    try {
      new Intl.DateTimeFormat('en', { timeZone: timezone });
    } catch {
      errors.push({
        path: 'timezone',
        message: `unknown time zone '${timezone}' (an IANA name, e.g. Europe/Paris)`,
      });
    }
  if (cron !== undefined && errors.length === 0)
    try {
      nextFire(cron, timezone ?? 'UTC', new Date());
      const gap =
        minSeconds > 0 ? shortestGapSeconds(cron, timezone ?? 'UTC', new Date(), minSeconds) : Infinity;
      if (gap < minSeconds)
        errors.push({
          path: 'cron',
          message: `'${cron}' fires ${gap} s apart; schedules fire at most every ${minSeconds} s (${LIMITS.scheduleIntervalSeconds.env})`,
        });
    } catch (err) {
      errors.push({ path: 'cron', message: `invalid cron pattern '${cron}': ${(err as Error).message}` });
    }
  return errors;
}

export class BullScheduler implements Scheduler {
  private readonly log = new Logger('Scheduler');
  private q?: Queue;
  private worker?: Worker;

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {}

  /** Connected on first use: an app that fails to start leaves no connection behind. */
  private get queue(): Queue {
    if (!this.q) {
      // No offline queue: with Redis away, creating a schedule answers 503 at once instead of hanging.
      this.q = new Queue(SCHEDULES_QUEUE, {
        connection: { ...redisConnection(this.redisUrl), enableOfflineQueue: false },
        prefix: this.prefix,
      });
      this.q.on('error', (err) => this.log.warn(`queue ${SCHEDULES_QUEUE}: ${err.message}`));
    }
    return this.q;
  }

  async upsert(scheduleId: string, cron: string, timezone: string): Promise<void> {
    await this.queue.upsertJobScheduler(
      scheduleId,
      { pattern: cron, tz: timezone },
      {
        name: 'fire',
        data: { scheduleId },
        opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      },
    );
  }

  async remove(scheduleId: string): Promise<void> {
    await this.queue.removeJobScheduler(scheduleId);
  }

  async ids(): Promise<string[]> {
    return (await this.queue.getJobSchedulers()).map((s) => s.key);
  }

  async start(handler: FireHandler): Promise<void> {
    this.worker = new Worker(
      SCHEDULES_QUEUE,
      async (job) => {
        const { scheduleId } = job.data as { scheduleId: string };
        // The scheduled instant, not when this worker got to it: a fire's identity.
        await handler(scheduleId, new Date(job.opts.prevMillis ?? job.timestamp));
      },
      { connection: redisConnection(this.redisUrl), prefix: this.prefix, concurrency: 1 },
    );
    this.worker.on('error', (err) => this.log.warn(`worker ${SCHEDULES_QUEUE}: ${err.message}`));
    this.worker.on('failed', (job, err) => this.log.error(`schedule fire ${job?.id}: ${err.message}`));
    // Closing a worker still connecting rejects inside BullMQ: a controller stopped right after it
    // started would log an unhandled rejection.
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.q?.close();
  }
}
