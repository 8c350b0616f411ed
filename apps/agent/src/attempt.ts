import {
  clause,
  isClauseId,
  type AttemptResult,
  type RunJobData,
  type VerdictRecord,
} from '@vmfarm/protocol';
import type { LiveVm } from '@vmfarm/session';
import type { Suite } from '@vmfarm/suites';

export type Artifact = AttemptResult['artifacts'][number];

/** The VMs of one attempt: what the suite boots through, then their artifacts once all are closed. */
export interface LiveVmRun {
  vm: LiveVm;
  /** Closes every instance (always called) and returns their artifacts. */
  finish(): Promise<Artifact[]>;
}

/** Thrown when the agent is stopping and the attempt was handed back unfinished. */
export class HandedBack extends Error {
  override name = 'HandedBack';
}

export interface AttemptDeps {
  agentId: () => string;
  findSuite(id: string): Suite | undefined;
  fetchImage(sha256: string): Promise<string>;
  /** Fault-injection hook for tests: wait this long before running the suite. */
  faultDelayMs: number;
  /** Live targets: the VMs a suite may boot for this job (absent for static targets). */
  liveVm?(job: RunJobData, imagePath: string): LiveVmRun | undefined;
}

/** ERROR for each clause of the suite: the farm or host broke, never the image. */
export function errorVerdicts(suiteId: string, suite: Suite | undefined, message: string): VerdictRecord[] {
  return (suite?.clauses ?? []).map((id) => ({
    suite: suiteId,
    clause: id,
    level: isClauseId(id) ? clause(id).level : 'MUST',
    verdict: 'ERROR',
    message,
    evidence: {},
  }));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason as Error)), {
      once: true,
    });
  });
}

/**
 * One attempt of a run: fetch the image, run the suite, and turn whatever happened into a result.
 * An exception from the suite or the host becomes ERROR verdicts; an abort because the agent is
 * stopping becomes HandedBack (the job goes back to the queue, no result is posted).
 */
export async function runAttempt(
  job: RunJobData,
  signal: AbortSignal,
  deps: AttemptDeps,
): Promise<AttemptResult> {
  const started = Date.now();
  const suite = deps.findSuite(job.suite);
  let live: LiveVmRun | undefined;
  // The VMs are closed and their artifacts kept whatever happened, before the result is posted.
  const artifacts = async (): Promise<Artifact[]> => (live ? live.finish() : []);
  try {
    if (!suite) throw new Error(`suite ${job.suite} is not in this agent's registry (agent too old?)`);
    const imagePath = await deps.fetchImage(job.image.sha256);
    if (deps.faultDelayMs > 0) await sleep(deps.faultDelayMs, signal);
    live = deps.liveVm?.(job, imagePath);
    const outcome = await suite.run({
      imagePath,
      arch: job.image.arch,
      target: job.target,
      signal,
      ...(live ? { vm: live.vm } : {}),
      ...(job.ready === undefined ? {} : { ready: job.ready }),
    });
    if (signal.aborted) throw signal.reason as Error;
    return {
      agentId: deps.agentId(),
      verdicts: outcome.verdicts,
      image: outcome.image,
      durationMs: Date.now() - started,
      artifacts: await artifacts(),
    };
  } catch (err) {
    const kept = await artifacts().catch(() => []);
    if (signal.aborted && signal.reason instanceof HandedBack) throw signal.reason;
    const message = `${(err as Error).name ?? 'Error'}: ${(err as Error).message ?? String(err)}`;
    return {
      agentId: deps.agentId(),
      verdicts: errorVerdicts(job.suite, suite, message),
      error: message,
      durationMs: Date.now() - started,
      artifacts: kept,
    };
  }
}
