import type { Acceptance } from '@vmfarm/session';
import { resolveHostFile, type HostProbe } from './probe';
import type { QemuProfile } from './profile';

export type { Acceptance } from '@vmfarm/session';

/** GICv2 addresses at most 8 CPU interfaces; QEMU would refuse the machine at start. */
export const GICV2_MAX_CPUS = 8;
const AARCH64_ONLY_CPUS = ['cortex-a57', 'cortex-a72'];

/**
 * Whether this host can run `profile`, decided at plan time from the probe: every reason it cannot,
 * so a matrix can record SKIP/ERROR with the cause instead of a QEMU start-up failure.
 */
export function accepts(profile: QemuProfile, probe: HostProbe): Acceptance {
  const reasons: string[] = [];
  const binary = probe.binaries[profile.binary];
  if (!binary) reasons.push(`${profile.binary} is not installed (Debian: qemu-system-arm)`);
  if (!probe.binaries['qemu-img']) reasons.push('qemu-img is not installed (Debian: qemu-utils)');
  for (const [what, file] of [
    ['firmware code', profile.firmwareCode],
    ['firmware variables template', profile.firmwareVars],
  ]) {
    const found = resolveHostFile(probe, file);
    if (!found.ok) reasons.push(`${what} ${found.reason}`);
  }
  if (profile.binary === 'qemu-system-arm' && AARCH64_ONLY_CPUS.includes(profile.cpu))
    reasons.push(`cpu ${profile.cpu} is 64-bit: qemu-system-arm cannot emulate it`);
  if (profile.gic === 2 && profile.smp > GICV2_MAX_CPUS)
    reasons.push(`GICv2 supports at most ${GICV2_MAX_CPUS} vCPUs, the profile asks for ${profile.smp}`);
  if (profile.acpi === 'on' && profile.cpu === 'cortex-a15')
    reasons.push('acpi=on needs a 64-bit guest: the 32-bit firmware publishes no ACPI tables');
  if (profile.accel === 'tcg' && profile.cpu === 'host') reasons.push('cpu host needs accel kvm');
  if (profile.accel === 'kvm') {
    if (!probe.kvm.arm64)
      reasons.push(`KVM cannot run an arm64 guest here: ${probe.kvm.reason ?? 'unknown'}`);
    if (profile.binary === 'qemu-system-arm')
      reasons.push('qemu-system-arm has no KVM support on arm64 hosts: use qemu-system-aarch64');
  }
  return reasons.length ? { ok: false, reasons, reason: reasons.join('; ') } : { ok: true };
}
