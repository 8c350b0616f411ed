import type { ImageFormat, TargetProfile } from '@vmfarm/protocol';
import type { VariableStoreOrigin, VmOverrides } from './live';
import type { VmSession } from './session';

/** Whether a host can run a profile: every reason it cannot, so a run can say why. */
export type Acceptance = { ok: true } | { ok: false; reasons: string[]; reason: string };

/** One boot of a target, as the agent asks a driver for it. */
export interface BootSpec {
  /** The disk image; never written to (the driver boots an overlay over it). */
  image: string;
  /** How to open it: always stated, never probed from the bytes (a qcow2 must not pull in a backing file). */
  format: ImageFormat;
  /**
   * A fresh directory for this instance: the variable store and the artifacts the driver keeps after
   * close (console.log and the driver's own logs). Everything else the driver made there goes on close.
   */
  instanceDir: string;
  overrides?: VmOverrides;
  /** Until the VM runs and its host side answers (default: the driver's). */
  startTimeoutMs?: number;
}

/** What `boot` hands back: the running session and how its variable store began. */
export interface Booted {
  session: VmSession;
  variableStore: VariableStoreOrigin;
}

/**
 * A kind of target (`qemu`, `emulator`, `xen`, …) as the agent drives it. Profiles are data (their
 * schema is in @vmfarm/protocol, one per kind); `Probe` is what this host offers the driver, as JSON
 * (the agent publishes it, the controller shows it, other agents read it to place jobs). Profiles name
 * host files (firmware, binaries) by name; the driver resolves those names against its probe, so a
 * profile never reads an arbitrary file of the host.
 */
export interface TargetDriver<Profile extends TargetProfile = TargetProfile, Probe = unknown> {
  readonly kind: Profile['kind'];
  /** Looks at the host: binaries and versions, firmware files by name, accelerators. */
  probe(): Promise<Probe>;
  /** Whether this host can run `profile` (with a boot's overrides applied), decided from the probe alone. */
  accepts(profile: Profile, probe: Probe): Acceptance;
  /**
   * Boots one instance. Rejects with TargetRefusedError before starting anything when `accepts`
   * refuses; with BootError when the VM could not be started; leaves nothing running on any failure.
   */
  boot(profile: Profile, spec: BootSpec, probe: Probe): Promise<Booted>;
}
