import type { QemuProfile } from '../src';

/** A resolved TCG aarch64 profile as the bundled base describes it; tests override what they vary. */
export function tcgProfile(overrides: Partial<QemuProfile> = {}): QemuProfile {
  return {
    id: 'p',
    kind: 'qemu',
    description: '',
    arch: ['aarch64'],
    binary: 'qemu-system-aarch64',
    accel: 'tcg',
    cpu: 'cortex-a57',
    gic: 3,
    acpi: 'off',
    memoryMiB: 1024,
    smp: 1,
    console: 'pl011',
    hotplugPorts: 4,
    firmwareCode: 'AAVMF_CODE.fd',
    firmwareVars: 'AAVMF_VARS.fd',
    ...overrides,
  };
}
