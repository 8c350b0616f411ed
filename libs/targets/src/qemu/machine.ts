import type { GicVersion } from '@vmfarm/session';
import type { QemuProfile } from './profile';

/**
 * The machine a profile (with a boot's overrides) describes, once: the command line is written from
 * it and `platform()` reports it, so the two can never disagree.
 */
export interface MachineDescription {
  /** QEMU's `-machine` value. */
  machine: string;
  accel: QemuProfile['accel'];
  cpu: QemuProfile['cpu'];
  memoryMiB: number;
  smp: number;
  console: QemuProfile['console'];
  gic: GicVersion;
  /**
   * What the firmware publishes: edk2's ArmVirtQemu installs the FDT as a configuration table only
   * when QEMU gives it no ACPI tables.
   */
  description: { fdt: boolean; acpi: boolean };
  /** The empty PCIe root ports hot-added devices go to, in order. */
  rootPorts: string[];
}

/** Names of the empty root ports hot-added devices go to. */
export const rootPortId = (n: number) => `rp${n}`;

export function describeMachine(p: QemuProfile): MachineDescription {
  return {
    machine: `virt,gic-version=${p.gic},acpi=${p.acpi}`,
    accel: p.accel,
    cpu: p.cpu,
    memoryMiB: p.memoryMiB,
    smp: p.smp,
    console: p.console,
    gic: p.gic,
    description: { fdt: p.acpi === 'off', acpi: p.acpi === 'on' },
    rootPorts: Array.from({ length: p.hotplugPorts }, (_, i) => rootPortId(i + 1)),
  };
}
