import { verdictsFor, type AttemptResult, type RunJobData, type VerdictRecord } from '@vmfarm/protocol';
import type { LiveVm } from '@vmfarm/session';
import { limitMs, payloadSuite, type Suite } from '@vmfarm/suites';

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

/** The attempt ran over its time limit (the profile's `stageLimits.attempt`, else the default). */
export class AttemptTimeoutError extends Error {
  override name = 'AttemptTimeoutError';
  constructor(readonly limitMs: number) {
    super(`the attempt overran its limit of ${limitMs / 1000} s; its VMs were closed`);
  }
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
  return verdictsFor(suiteId, suite?.clauses ?? [], 'ERROR', message);
}

/** Rejects with the signal's reason once it fires (the loser of a race never keeps the attempt). */
function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/**
 * The image's static verdicts, for a live suite to put a failed boot on the right subject (about
 * 0.2 s: the static suite reads metadata only). Unknown (undefined) when the static suite cannot run.
 */
async function staticVerdicts(
  deps: AttemptDeps,
  job: RunJobData,
  imagePath: string,
  signal: AbortSignal,
): Promise<VerdictRecord[] | undefined> {
  const check = deps.findSuite('static');
  if (!check || job.suite === 'static') return undefined;
  try {
    return (await check.run({ imagePath, arch: job.image.arch, target: job.target, signal })).verdicts;
  } catch {
    return undefined;
  }
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
 * One attempt of a run: fetch the image, run the suite (a live one after the image's static checks,
 * whose verdicts it gets), and turn whatever happened into a result. The attempt has a time limit:
 * when it runs out, the suite's signal fires, its VMs are closed, and the clauses are ERROR. An
 * exception from the suite or the host becomes ERROR verdicts; an abort because the agent is
 * stopping becomes HandedBack (the job goes back to the queue, no result is posted).
 */
export async function runAttempt(
  job: RunJobData,
  signal: AbortSignal,
  deps: AttemptDeps,
): Promise<AttemptResult> {
  const started = Date.now();
  // A payload suite is the payload the job carries (its image is the payload's boot disk).
  const suite = job.payload ? payloadSuite(job.payload) : deps.findSuite(job.suite);
  const attempt = new AbortController();
  const forward = () => attempt.abort(signal.reason);
  if (signal.aborted) forward();
  else signal.addEventListener('abort', forward, { once: true });
  const limit = limitMs(job.target, 'attempt');
  const timer = setTimeout(() => attempt.abort(new AttemptTimeoutError(limit)), limit);
  let live: LiveVmRun | undefined;
  // The VMs are closed and their artifacts kept whatever happened, before the result is posted.
  const artifacts = async (): Promise<Artifact[]> => (live ? live.finish() : []);
  try {
    if (!suite) throw new Error(`suite ${job.suite} is not in this agent's registry (agent too old?)`);
    const running = (async () => {
      const imagePath = await deps.fetchImage(job.image.sha256);
      if (deps.faultDelayMs > 0) await sleep(deps.faultDelayMs, attempt.signal);
      live = deps.liveVm?.(job, imagePath);
      const checked = live ? await staticVerdicts(deps, job, imagePath, attempt.signal) : undefined;
      return suite.run({
        imagePath,
        arch: job.image.arch,
        target: job.target,
        signal: attempt.signal,
        ...(live ? { vm: live.vm } : {}),
        ...(job.ready === undefined ? {} : { ready: job.ready }),
        ...(checked ? { staticVerdicts: checked } : {}),
      });
    })();
    running.catch(() => {}); // after a lost race it settles with nobody waiting
    const outcome = await Promise.race([running, whenAborted(attempt.signal)]);
    if (attempt.signal.aborted) throw attempt.signal.reason as Error;
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
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', forward);
  }
}
