import type { ConsoleKind } from '@vmfarm/protocol';
import type { VmSession } from './session';

/** What a suite may change of the target for one boot (the GIC fallback, FDT-only or ACPI, the console). */
export interface VmOverrides {
  gic?: 2 | 3;
  acpi?: 'on' | 'off';
  console?: ConsoleKind;
}

/** How the instance's UEFI variable store began, as the driver that made it says. */
export interface VariableStoreOrigin {
  /** The store was created for this boot from the profile's template, never used before. */
  pristine: boolean;
  /** The template, as the profile names it. */
  template: string;
  /** Why the driver says so, for evidence. */
  detail: string;
}

/** A fresh VM instance of the run's target booted on the run's image, as the agent hands it over. */
export interface BootedVm {
  session: VmSession;
  /** `Date.now()` when the agent began starting the VM (stage timings count from here). */
  startedAt: number;
  variableStore: VariableStoreOrigin;
}

/** The `vm` capability of live suites, provided by the agent (each boot is a new instance). */
export interface LiveVm {
  /**
   * Starts a new instance (pristine variable store, overlay over the image). The agent closes every
   * instance when the attempt ends; a suite closes one early to free the host (one VM at a time).
   * Rejects with TargetRefusedError (the host cannot give this boot) or BootError.
   */
  boot(overrides?: VmOverrides): Promise<BootedVm>;
}
