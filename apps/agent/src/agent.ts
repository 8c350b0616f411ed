import { redisConnection } from '@vmfarm/host';
import { queueName, type RunJobData, type TargetKind } from '@vmfarm/protocol';
import type { HostProbe } from '@vmfarm/targets';
import { DelayedError, Worker } from 'bullmq';
import * as os from 'node:os';
import * as path from 'node:path';
import { HandedBack } from './attempt';
import { RunningAttempts } from './cancels';
import { ControllerClient } from './client';
import { ImageCache } from './image-cache';
import { jobProcessor } from './jobs';
import { CoreBudget } from './placement';
import { probeCapabilities, PROBES, type KindProbe } from './probes';
import { startRegistration } from './registration';
import { VERSION } from './version';

export interface AgentOptions {
  controllerUrl: string;
  /** An agent token (or an admin's): the controller refuses agents without one. */
  token: string;
  /** Overrides the Redis URL the controller hands out (an agent behind NAT, say). */
  redisUrl?: string;
  name?: string;
  /**
   * The host cores the agent's attempts use (default: every core this process may run on): as many
   * attempts run at once, each live one holding as many cores as its VM has vCPUs.
   */
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

/** What the registration schema accepts as an agent's concurrency. */
export const MAX_CONCURRENCY = 64;

/** Every core this process may run on (its CPU affinity), within what an agent may declare. */
export const defaultConcurrency = () => Math.min(MAX_CONCURRENCY, Math.max(1, os.availableParallelism()));

const defaultCacheDir = () =>
  path.join(process.env.VMFARM_CACHE || path.join(os.homedir(), '.cache', 'vmfarm'), 'agent-images');

/**
 * An agent: registration and heartbeat (registration.ts), placement of each job on this host
 * (placement.ts) and job processing (jobs.ts), over one BullMQ worker per target kind it serves.
 */
export async function runAgent(options: AgentOptions): Promise<AgentHandle> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const concurrency = options.concurrency ?? defaultConcurrency();
  const graceMs = options.graceMs ?? 30_000;
  const client = new ControllerClient(options.controllerUrl, options.token);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const stopping = new AbortController();
  const running = new RunningAttempts();
  const capabilities = await probeCapabilities(concurrency, options.probes ?? PROBES);
  const registration = await startRegistration(
    client,
    async () => ({
      name: options.name ?? os.hostname(),
      host: os.hostname(),
      version: VERSION,
      capabilities,
    }),
    log,
    stopping.signal,
    (cancelled) => {
      for (const id of running.cancel(cancelled))
        log(`vmfarm agent: run ${id} cancelled on the controller: stopping it`);
    },
  );
  const { registered } = registration;
  const processJob = jobProcessor({
    client,
    cache: new ImageCache(cacheDir, client),
    agentId: () => registration.id,
    host: (capabilities.probes.qemu as { host?: HostProbe } | undefined)?.host,
    emulatorHost: (capabilities.probes.emulator as { host?: HostProbe } | undefined)?.host,
    cores: new CoreBudget(concurrency),
    workDir: options.workDir ?? path.join(path.dirname(cacheDir), 'agent-work'),
    faultDelayMs: options.faultDelayMs ?? 0,
    stopping: stopping.signal,
    running,
    log,
  });

  const kinds = capabilities.targetKinds;
  const workers = kinds.map((kind) => {
    const worker = new Worker<RunJobData>(queueName(kind), processJob, {
      connection: redisConnection(options.redisUrl ?? registered.redisUrl),
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
  options.onReady?.(registration.id, kinds);

  let stopped: Promise<void> | undefined;
  return {
    get id() {
      return registration.id;
    },
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        registration.stop();
        const closing = Promise.all(workers.map((w) => w.close()));
        const grace = setTimeout(
          () => running.abortAll(new HandedBack('agent stopping: grace period over')),
          graceMs,
        );
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
