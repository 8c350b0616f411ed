import type { Arch, ImageFormat, TargetKind, TargetProfile, VerdictRecord } from '@vmfarm/protocol';
import type { LiveVm } from '@vmfarm/session';

/**
 * What a suite gets to work with. Static suites read `imagePath`; live suites also get `vm`, the
 * VM-session API through the target driver, never a driver itself.
 */
export interface SuiteContext {
  /** A local file holding the image (raw or qcow2, already decompressed). */
  imagePath: string;
  /** The architecture declared by the submitter, or null to detect it. */
  arch: Arch | null;
  target: TargetProfile;
  /**
   * Aborted when the agent hands the job back or the attempt's limit runs out; inside a live suite
   * (runLive), also when one of its stages overruns its limit (the suite's VMs are closed then).
   */
  signal: AbortSignal;
  /** Live targets only: boots instances of `target` on the image. */
  vm?: LiveVm;
  /** The submitter's readiness pattern (a regular expression, run on RE2), tried with the defaults. */
  ready?: string;
  /**
   * Live suites: the image's static verdicts, when the agent ran the static suite first. A boot that
   * fails on an image that failed them is charged to the image, not to the VM.
   */
  staticVerdicts?: readonly VerdictRecord[];
}

export interface SuiteOutcome {
  verdicts: VerdictRecord[];
  /** What the suite learnt of the image (format, detected architecture). */
  image: { format: ImageFormat; arch: Arch | null };
}

export interface Suite {
  id: string;
  title: string;
  subject: 'image' | 'vm' | 'guest';
  /** Clause IDs of CLAUSES.md this suite gives verdicts for. */
  clauses: readonly string[];
  /** Target kinds that can run it. */
  targetKinds: readonly TargetKind[];
  /**
   * About how long one run takes on TCG with the reference guest, in seconds (relative figures from
   * bench/live-matrix-bench.mjs): the controller queues a matrix's longest runs first, so that an
   * agent running attempts side by side does not end on one long run alone. Absent: quick.
   */
  typicalSeconds?: number;
  /** Why this suite cannot be planned on `target` at all (checked when a matrix is created). */
  refuse?(target: TargetProfile): string | undefined;
  run(ctx: SuiteContext): Promise<SuiteOutcome>;
}

/** Thrown for input the farm cannot read at all (missing file, unknown container): exit 2 in the CLI. */
export class UnreadableImageError extends Error {
  override name = 'UnreadableImageError';
}
