import type { RunJobData, RunJobProgress } from '@vmfarm/protocol';
import { refusalsOf } from '@vmfarm/protocol';
import { accepts, withFiles, type HostProbe } from '@vmfarm/targets';
import { DelayedError, type Job } from 'bullmq';

/** How long a job this host cannot run waits before an agent may take it again. */
export const HAND_BACK_DELAY_MS = 5_000;

/** Whether this host runs the job: the probe to boot with, or why not. */
export type Placement = { ok: true; host: HostProbe | undefined } | { ok: false; reason: string };

/**
 * Whether this host runs the job's target: a qemu profile is checked against the start-up probe,
 * plus the host paths the profile names looked at now (the probe covers the bundled profiles only).
 */
export function placeHere(job: RunJobData, host: HostProbe | undefined): Placement {
  if (job.target.kind !== 'qemu') return { ok: true, host };
  if (!host) return { ok: false, reason: 'qemu was not probed' };
  const jobHost = withFiles(host, [job.target.firmwareCode, job.target.firmwareVars]);
  const verdict = accepts(job.target, jobHost);
  return verdict.ok ? { ok: true, host: jobHost } : { ok: false, reason: verdict.reason };
}

/**
 * Hands a job this host refuses back to the queue, with the refusal in the job's progress: the
 * controller's placement reads it, and records the run SKIP when no online agent can take it.
 */
export async function handBackRefused(
  job: Job<RunJobData>,
  token: string | undefined,
  agentId: string,
  reason: string,
): Promise<never> {
  const progress: RunJobProgress = { refusedBy: { ...refusalsOf(job.progress), [agentId]: reason } };
  await job.updateProgress(progress);
  await job.moveToDelayed(Date.now() + HAND_BACK_DELAY_MS, token);
  throw new DelayedError();
}

/** The host cores an attempt occupies: a live VM's vCPUs (at most all of them); a static check none. */
export function coresOf(job: RunJobData, total: number): number {
  return job.target.kind === 'qemu' ? Math.min(Math.max(1, job.target.smp), total) : 0;
}

/**
 * The agent's cores, shared by its running attempts: an attempt starts its VMs once the cores its
 * VMs get (-smp) are free, so attempts run side by side without a VM waiting on another's vCPUs.
 */
export class CoreBudget {
  private free: number;
  private readonly waiting: { cores: number; grant: () => void }[] = [];

  constructor(readonly total: number) {
    this.free = total;
  }

  /** Resolves with the release function once `cores` are free (first come, first served). */
  async take(cores: number): Promise<() => void> {
    if (cores > this.total) throw new Error(`${cores} cores asked of a budget of ${this.total}`);
    if (cores === 0) return () => {};
    if (this.waiting.length > 0 || this.free < cores)
      await new Promise<void>((grant) => this.waiting.push({ cores, grant }));
    else this.free -= cores;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.free += cores;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.waiting[0].cores <= this.free) {
      const next = this.waiting.shift()!;
      this.free -= next.cores;
      next.grant();
    }
  }
}
