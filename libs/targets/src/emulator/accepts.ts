import type { Acceptance } from '@vmfarm/session';
import { resolveHostFile, type HostProbe } from '../qemu/probe';
import type { EmulatorProfile } from './profile';

/**
 * Whether this host can run `profile` on the bundled emulator, from the probe: the firmware files by
 * name, and every machine feature the emulator does not have yet, each with its reason.
 */
export function acceptsEmulator(profile: EmulatorProfile, probe: HostProbe): Acceptance {
  const reasons: string[] = [];
  for (const [what, file] of [
    ['firmware code', profile.firmwareCode],
    ['firmware variables template', profile.firmwareVars],
  ]) {
    const found = resolveHostFile(probe, file);
    if (!found.ok) reasons.push(`${what} ${found.reason}`);
  }
  if (profile.arch.includes('aarch32'))
    reasons.push('aarch32 guests: the emulator CPU has no A32/T32 state (AArch64 only)');
  if (profile.acpi === 'on') reasons.push('acpi=on: the emulator machine generates no ACPI tables yet');
  if (profile.smp !== 1) reasons.push(`smp ${profile.smp}: the emulator machine has one PE`);
  if (profile.console !== 'pl011')
    reasons.push(`console ${profile.console}: the emulator has the PL011 only`);
  if (profile.hotplugPorts !== 0)
    reasons.push(`hotplugPorts ${profile.hotplugPorts}: the emulator machine has no PCIe root ports yet`);
  if (profile.memoryMiB > 3072)
    reasons.push(`memoryMiB ${profile.memoryMiB}: the emulator bus ends at 4 GiB (RAM from 1 GiB)`);
  return reasons.length ? { ok: false, reasons, reason: reasons.join('; ') } : { ok: true };
}
