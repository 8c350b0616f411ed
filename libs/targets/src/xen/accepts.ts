import type { Acceptance } from '@vmfarm/session';
import type { XenProfile } from './profile';
import { resolveXenFile, type XenProbe } from './probe';

/** Whether this dom0 can run `profile`, from the probe alone: every reason it cannot. */
export function acceptsXen(profile: XenProfile, probe: XenProbe): Acceptance {
  const reasons: string[] = [];
  if (!probe.xl) reasons.push('xl is not installed (Debian: xen-utils-4.17); this host is no Xen dom0');
  else if (!probe.xl.info) reasons.push(`xl cannot reach Xen: ${probe.xl.error ?? 'xl info failed'}`);
  if (!probe.xenstore) reasons.push('xenstore-read is not installed (Debian: xenstore-utils)');
  if (!probe.xenconsole) reasons.push('xenconsole is not installed (Debian: xen-utils-4.17)');
  if (probe.arch && !profile.arch.some((a) => (a === 'aarch64' ? probe.arch === 'aarch64' : a === 'aarch32')))
    reasons.push(`the host is ${probe.arch}: it cannot run ${profile.arch.join('/')} domains`);
  for (const [what, file] of [
    ['kernel', profile.kernel],
    ['ramdisk', profile.ramdisk],
  ] as const) {
    if (!file) continue;
    const found = resolveXenFile(probe, file);
    if (!found.ok) reasons.push(`${what} ${found.reason}`);
  }
  if (probe.xl?.info && probe.freeMemoryMiB !== null && probe.freeMemoryMiB < profile.memoryMiB)
    reasons.push(`Xen has ${probe.freeMemoryMiB} MiB free, the profile asks for ${profile.memoryMiB} MiB`);
  if (!probe.bridges.includes(profile.bridge))
    reasons.push(
      `no bridge ${profile.bridge} in dom0 (${probe.bridges.length ? `it has ${probe.bridges.join(', ')}` : 'it has none'})`,
    );
  return reasons.length ? { ok: false, reasons, reason: reasons.join('; ') } : { ok: true };
}
