export type GicVersion = 2 | 3;

/** What the VM implementation offers, as its host side sees it: the facts vm clauses are judged on. */
export interface PlatformFacts {
  /** The driver (`qemu`, `emulator`, `xen`) and how it runs the VM (`tcg`, `kvm`, …). */
  driver: string;
  accel: string;
  cpu: string;
  smp: number;
  memoryMiB: number;
  /** The console the guest's firmware and kernel write to (`pl011`, `virtio-console`, `xen-pv`). */
  console: string;
  gic: {
    /** The interrupt controller this instance has. */
    version: GicVersion;
    /** The versions this host can give a VM with this accelerator. */
    available: GicVersion[];
  };
  /** What the firmware is configured to publish to the guest. */
  description: { fdt: boolean; acpi: boolean };
  hotplugPorts: number;
  /**
   * Whether the instance's UEFI variables persist, when the driver knows they cannot (Xen's XEN_EFI
   * keeps them in memory): suites judging persistence skip with `why`. Absent: a store the driver
   * offers through `variables()`.
   */
  variableStore?: { persistent: boolean; why: string };
  /** The raw answers the facts come from (QMP replies, `xl info`), for evidence. */
  evidence: Record<string, unknown>;
}
