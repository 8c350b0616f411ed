import type { GicVersion, PlatformFacts } from '@vmfarm/session';
import type { MachineDescription } from './machine';

/** One entry of QMP `query-gic-capabilities`. */
export interface QueryGicCapability {
  version: number;
  emulated: boolean;
  kernel: boolean;
}

/**
 * What the VM offers, from the machine its command line was written from and what QEMU says this
 * host can give (`query-gic-capabilities`: emulated for TCG, in-kernel for KVM).
 */
export function platformFacts(m: MachineDescription, caps: readonly QueryGicCapability[]): PlatformFacts {
  const usable = (c: QueryGicCapability) => (m.accel === 'kvm' ? c.kernel : c.emulated);
  const available = caps
    .filter(usable)
    .map((c) => c.version)
    .filter((v): v is GicVersion => v === 2 || v === 3)
    .sort();
  return {
    driver: 'qemu',
    accel: m.accel,
    cpu: m.cpu,
    smp: m.smp,
    memoryMiB: m.memoryMiB,
    console: m.console,
    gic: { version: m.gic, available },
    description: m.description,
    hotplugPorts: m.rootPorts.length,
    evidence: { 'query-gic-capabilities': caps, machine: m.machine, accel: m.accel },
  };
}
