import type { AttemptAck, AttemptResult, RunJobData } from '@vmfarm/protocol';
import type { HostProbe } from '@vmfarm/targets';
import { DelayedError, type Job } from 'bullmq';
import { HandedBack, runAttempt } from './attempt';
import { Cancelled, RunningAttempts } from './cancels';
import { ControllerClient, ControllerError } from './client';
import type { ImageCache } from './image-cache';
import { coresOf, handBackRefused, placeHere, type CoreBudget } from './placement';
import { emulatorVmRun, qemuVmRun } from './qemu-vm';
import { findSuite } from './suites';

/** What processing a job needs of the rest of the agent. */
export interface JobContext {
  client: ControllerClient;
  cache: ImageCache;
  /** The agent's id now (it changes when the agent registers again). */
  agentId: () => string;
  /** The qemu probe of this host, when qemu was probed. */
  host: HostProbe | undefined;
  /** The emulator probe of this host (its AAVMF files), when the emulator was probed. */
  emulatorHost: HostProbe | undefined;
  cores: CoreBudget;
  workDir: string;
  faultDelayMs: number;
  /** Aborted when the agent stops: jobs not yet started go back to the queue. */
  stopping: AbortSignal;
  /** The attempts running now, for cancels and for the grace period on stop. */
  running: RunningAttempts;
  log: (line: string) => void;
}

/** Posting a result is idempotent, so a controller that is briefly away is simply asked again. */
async function reportResult(
  client: ControllerClient,
  runId: string,
  attempt: number,
  result: AttemptResult,
  log: (l: string) => void,
): Promise<AttemptAck> {
  for (let wait = 1000; ; wait *= 2) {
    try {
      return await client.postResult(runId, attempt, result);
    } catch (err) {
      const transient = err instanceof ControllerError && (err.status === 0 || err.status >= 500);
      if (!transient || wait > 16_000) throw err;
      log(
        `vmfarm agent: reporting run ${runId} attempt ${attempt} failed (${err.message}); retrying in ${wait / 1000}s`,
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * The BullMQ processor of run jobs: a job this host cannot run goes back to the queue with the
 * reason; otherwise the attempt is started on the controller, waits for the cores its VMs get,
 * runs, and its result is reported once. BullMQ retries a job whose result the controller wants
 * retried (a new attempt number).
 */
export function jobProcessor(ctx: JobContext) {
  const { client, log } = ctx;
  return async (job: Job<RunJobData>, token?: string): Promise<void> => {
    const data = job.data;
    const attempt = job.attemptsStarted;
    const handBack = async (): Promise<never> => {
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    };
    if (ctx.stopping.aborted) return handBack();
    const placed = placeHere(data, ctx.host);
    if (!placed.ok) {
      log(
        `vmfarm agent: run ${data.runId}: target ${data.target.id} cannot run here (${placed.reason}); handed back`,
      );
      return handBackRefused(job, token, ctx.agentId(), placed.reason);
    }
    let started;
    try {
      started = await client.startAttempt(data.runId, attempt, ctx.agentId());
    } catch (err) {
      // The controller does not know the run (its database was replaced): nothing to run or report.
      if (err instanceof ControllerError && err.status === 404) {
        log(`vmfarm agent: run ${data.runId} unknown to the controller; dropping its job`);
        return;
      }
      throw err;
    }
    if (!started.proceed) return;
    const abort = new AbortController();
    const untrack = ctx.running.track(data.runId, abort);
    let result;
    try {
      const release = await ctx.cores.take(coresOf(data, ctx.cores.total));
      try {
        result = await runAttempt(data, abort.signal, {
          agentId: ctx.agentId,
          findSuite,
          fetchImage: (sha) => ctx.cache.fetch(sha),
          faultDelayMs: ctx.faultDelayMs,
          liveVm: (j, imagePath) =>
            j.target.kind === 'qemu' && placed.host
              ? qemuVmRun(j, attempt, imagePath, ctx.workDir, placed.host)
              : j.target.kind === 'emulator' && ctx.emulatorHost
                ? emulatorVmRun(j, attempt, imagePath, ctx.workDir, ctx.emulatorHost)
                : undefined,
        });
      } finally {
        release();
      }
    } catch (err) {
      if (err instanceof HandedBack) {
        log(`vmfarm agent: run ${data.runId} attempt ${attempt} handed back`);
        return handBack();
      }
      throw err;
    } finally {
      untrack();
    }
    // The controller recorded the cancelled run already: nothing to report.
    if (abort.signal.reason instanceof Cancelled) return;
    const ack = await reportResult(client, data.runId, attempt, result, log);
    log(
      `vmfarm agent: run ${data.runId} attempt ${attempt} ${result.error ? `ERROR (${result.error})` : 'reported'}`,
    );
    // BullMQ retries the job: the next attempt is a new attempt number for the controller.
    if (ack.retry) throw new Error(`attempt ${attempt} ended in ERROR; the controller asked for a retry`);
  };
}
