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
