import type { PayloadManifest } from './payload';
import type { Arch, ImageFormat } from './verdict';
import type { TargetKind, TargetProfile } from './target';

/** One BullMQ queue per target kind; BullMQ names may not contain ':'. */
export function queueName(kind: TargetKind): string {
  return `runs-${kind}`;
}

export const DEFAULT_QUEUE_PREFIX = 'vmfarm';

/** Attempts per run: only ERROR (infrastructure) is retried, FAIL never is. */
export const MAX_ATTEMPTS = 3;

/** The payload of a run job. The BullMQ job id is the run id, so a double submit cannot duplicate it. */
export interface RunJobData {
  runId: string;
  matrixId: string;
  suite: string;
  target: TargetProfile;
  image: { sha256: string; size: number; format: ImageFormat; arch: Arch | null };
  /** The matrix's readiness pattern for live suites. */
  ready?: string;
  /** A payload suite's payload (the image is its boot disk): the agent runs it as the suite. */
  payload?: { manifest: PayloadManifest; sha256: string };
}

/**
 * A run job's BullMQ progress while it waits: the agents that took it and handed it back because
 * their host cannot run its target (agent id: reason). The controller's placement reads it; a run
 * that no online agent can take is recorded SKIP once its grace period is over.
 */
export interface RunJobProgress {
  refusedBy: Record<string, string>;
}

/** The refusals of a job's progress (anything else there, e.g. an older agent's number, is none). */
export function refusalsOf(progress: unknown): Record<string, string> {
  const refused = (progress as Partial<RunJobProgress> | null)?.refusedBy;
  if (!refused || typeof refused !== 'object') return {};
  return Object.fromEntries(Object.entries(refused).filter(([, why]) => typeof why === 'string'));
}
