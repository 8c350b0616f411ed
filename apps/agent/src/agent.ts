import {
  queueName,
  verdictsFor,
  type AgentRegistered,
  type AgentView,
  type AttemptAck,
  type AttemptResult,
  type RunJobData,
  type TargetKind,
} from '@vmfarm/protocol';
import { DelayedError, Worker, type Job } from 'bullmq';
import * as os from 'node:os';
import * as path from 'node:path';
import { accepts, withFiles, type HostProbe } from '@vmfarm/targets';
import { HandedBack, runAttempt } from './attempt';
import { Cancelled, RunningAttempts } from './cancels';
import { ControllerClient, ControllerError } from './client';
import { ImageCache } from './image-cache';
import { probeCapabilities, PROBES, type KindProbe } from './probes';
import { emulatorVmRun, qemuVmRun } from './qemu-vm';
import { findSuite } from './suites';
import { VERSION } from './version';

export interface AgentOptions {
  controllerUrl: string;
  /** An agent token (or an admin's): the controller refuses agents without one. */
  token: string;
  /** Overrides the Redis URL the controller hands out (an agent behind NAT, say). */
  redisUrl?: string;
  name?: string;
  concurrency?: number;
  cacheDir?: string;
  /** Where VM instances live while they run (default: agent-work/ beside the image cache dir). */
  workDir?: string;
  /** How long running attempts may take to finish on stop() before they are handed back. */
  graceMs?: number;
  /** Fault-injection hook for tests (env VMFARM_AGENT_FAULT_DELAY_MS): delay every attempt. */
  faultDelayMs?: number;
  probes?: readonly KindProbe[];
  log?: (line: string) => void;
  /** Called once the workers run, with the agent id and the kinds served. */
  onReady?: (id: string, kinds: readonly TargetKind[]) => void;
}

export interface AgentHandle {
  readonly id: string;
  /** Stops taking jobs, lets running ones finish within the grace period, hands back the rest. */
  stop(): Promise<void>;
}

/**
 * Lock and stall settings: a job whose agent died (SIGKILL) loses its lock after LOCK_MS and is
 * handed to another agent by that agent's stalled-job check, within about LOCK_MS + 2 × STALLED_MS.
 */
export const LOCK_MS = 15_000;
export const STALLED_MS = 5_000;
const MAX_STALLED = 2;

export function connectionOf(redisUrl: string) {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

const defaultCacheDir = () =>
  path.join(process.env.VMFARM_CACHE || path.join(os.homedir(), '.cache', 'vmfarm'), 'agent-images');

/** How long a job this host cannot run waits before another agent may take it. */
export const HAND_BACK_DELAY_MS = 5_000;

/**
 * A qemu job whose profile this host refuses: hand it back when another online agent's probe accepts
 * the profile, otherwise no agent of the farm can run it now and the run is recorded as SKIP with
 * the reasons (a queued job that nobody can take would leave the matrix running forever).
 */
export function placeRefused(
  profile: Parameters<typeof accepts>[0],
  selfId: string,
  agents: readonly AgentView[],
): 'hand-back' | 'skip' {
  const others = agents.filter(
    (a) => a.id !== selfId && a.online && a.capabilities.targetKinds.includes('qemu'),
  );
  const able = others.some((a) => {
    const host = (a.capabilities.probes.qemu as { host?: HostProbe } | undefined)?.host;
    return host !== undefined && accepts(profile, host).ok;
  });
  return able ? 'hand-back' : 'skip';
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/** Registers, retrying with backoff while the controller is unreachable. */
async function register(
  client: ControllerClient,
  build: () => Promise<Parameters<ControllerClient['register']>[0]>,
  log: (l: string) => void,
  signal: AbortSignal,
): Promise<AgentRegistered> {
  let wait = 500;
  for (;;) {
    try {
      return await client.register(await build());
    } catch (err) {
      if (!(err instanceof ControllerError) || (err.status !== 0 && err.status < 500)) throw err;
      if (signal.aborted) throw new Error('stopped before registering');
      log(
        `vmfarm agent: controller ${client.baseUrl} unreachable (${err.message}); retrying in ${wait / 1000}s`,
      );
      await delay(wait, signal);
      wait = Math.min(wait * 2, 10_000);
    }
  }
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

export async function runAgent(options: AgentOptions): Promise<AgentHandle> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const concurrency = options.concurrency ?? 1;
  const graceMs = options.graceMs ?? 30_000;
  const client = new ControllerClient(options.controllerUrl, options.token);
  const cache = new ImageCache(options.cacheDir ?? defaultCacheDir(), client);
  const stopping = new AbortController();
  const capabilities = await probeCapabilities(concurrency, options.probes ?? PROBES);
  const host = (capabilities.probes.qemu as { host?: HostProbe } | undefined)?.host;
  const emulatorHost = (capabilities.probes.emulator as { host?: HostProbe } | undefined)?.host;
  const workDir =
    options.workDir ?? path.join(path.dirname(options.cacheDir ?? defaultCacheDir()), 'agent-work');
  const registration = async () => ({
    name: options.name ?? os.hostname(),
    host: os.hostname(),
    version: VERSION,
    capabilities,
  });
  let registered = await register(client, registration, log, stopping.signal);
  let agentId = registered.id;
  const redisUrl = options.redisUrl ?? registered.redisUrl;

  let beating = false;
  const heartbeat = setInterval(() => {
    if (beating) return;
    beating = true;
    client
      .heartbeat(agentId)
      .then((cancelled) => {
        for (const id of running.cancel(cancelled))
          log(`vmfarm agent: run ${id} cancelled on the controller: stopping it`);
      })
      .catch(async (err: Error) => {
        if (!(err instanceof ControllerError && err.status === 404)) throw err;
        // The controller forgot us (a fresh database): register again under a new id.
        registered = await register(client, registration, log, stopping.signal);
        agentId = registered.id;
        log(`vmfarm agent: re-registered as ${agentId}`);
      })
      .catch((err: Error) => log(`vmfarm agent: heartbeat failed: ${err.message}`))
      .finally(() => (beating = false));
  }, registered.heartbeatSeconds * 1000);
  heartbeat.unref();

  const active = new Set<AbortController>();
  const running = new RunningAttempts();

  const processJob = async (job: Job<RunJobData>, token?: string): Promise<void> => {
    const data = job.data;
    const attempt = job.attemptsStarted;
    const handBack = async () => {
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    };
    if (stopping.signal.aborted) return handBack();
    let refusal: string | undefined;
    const jobHost =
      host && data.target.kind === 'qemu'
        ? withFiles(host, [data.target.firmwareCode, data.target.firmwareVars])
        : host;
    if (data.target.kind === 'qemu') {
      const verdict = jobHost
        ? accepts(data.target, jobHost)
        : { ok: false as const, reason: 'qemu was not probed' };
      if (!verdict.ok) {
        refusal = verdict.reason;
        if (placeRefused(data.target, agentId, await client.agents()) === 'hand-back') {
          log(
            `vmfarm agent: run ${data.runId}: target ${data.target.id} cannot run here (${refusal}); handed back`,
          );
          await job.moveToDelayed(Date.now() + HAND_BACK_DELAY_MS, token);
          throw new DelayedError();
        }
      }
    }
    let started;
    try {
      started = await client.startAttempt(data.runId, attempt, agentId);
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
    active.add(abort);
    const untrack = running.track(data.runId, abort);
    let result;
    try {
      result = refusal
        ? skipResult(data, refusal)
        : await runAttempt(data, abort.signal, {
            agentId: () => agentId,
            findSuite,
            fetchImage: (sha) => cache.fetch(sha),
            faultDelayMs: options.faultDelayMs ?? 0,
            liveVm: (job, imagePath) =>
              job.target.kind === 'qemu' && jobHost
                ? qemuVmRun(job, attempt, imagePath, workDir, jobHost)
                : job.target.kind === 'emulator' && emulatorHost
                  ? emulatorVmRun(job, attempt, imagePath, workDir, emulatorHost)
                  : undefined,
          });
    } catch (err) {
      if (err instanceof HandedBack) {
        log(`vmfarm agent: run ${data.runId} attempt ${attempt} handed back`);
        return handBack();
      }
      throw err;
    } finally {
      active.delete(abort);
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

  /** SKIP for every clause of the suite: the target cannot run on any agent of the farm now. */
  const skipResult = (data: RunJobData, reason: string): AttemptResult => ({
    agentId,
    verdicts: verdictsFor(
      data.suite,
      findSuite(data.suite)?.clauses ?? [],
      'SKIP',
      `target ${data.target.id} cannot run on any agent of this farm: ${reason}`,
      { target: data.target.id, agent: agentId, reason },
    ),
    durationMs: 0,
    artifacts: [],
  });

  const kinds = capabilities.targetKinds;
  const workers = kinds.map((kind) => {
    const worker = new Worker<RunJobData>(queueName(kind), processJob, {
      connection: connectionOf(redisUrl),
      prefix: registered.queuePrefix,
      concurrency,
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_MS,
      maxStalledCount: MAX_STALLED,
    });
    worker.on('error', (err) => log(`vmfarm agent: worker ${kind}: ${err.message}`));
    worker.on('failed', (job, err) => {
      if (job && !(err instanceof DelayedError)) log(`vmfarm agent: run ${job.id} failed: ${err.message}`);
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  options.onReady?.(agentId, kinds);

  let stopped: Promise<void> | undefined;
  return {
    get id() {
      return agentId;
    },
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        clearInterval(heartbeat);
        const closing = Promise.all(workers.map((w) => w.close()));
        const grace = setTimeout(() => {
          for (const a of active) a.abort(new HandedBack('agent stopping: grace period over'));
        }, graceMs);
        try {
          await closing;
        } finally {
          clearTimeout(grace);
        }
      })();
      return stopped;
    },
  };
}
