import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveTargetProfiles, type XenTargetProfile } from '@vmfarm/protocol';

/** A resolved xen target profile (`extends` merged in). */
export type XenProfile = Omit<XenTargetProfile, 'extends'>;

/**
 * The xen profiles of a directory of profile files (deploy/targets/): every kind is read, so that a
 * xen profile may extend another; the problems of the xen ones are returned, not thrown.
 */
export function loadXenProfiles(dir: string): {
  profiles: Map<string, XenProfile>;
  errors: { path: string; message: string }[];
} {
  const inputs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
  const { profiles, errors } = resolveTargetProfiles(inputs);
  const xen = new Map<string, XenProfile>();
  for (const p of profiles) if (p.kind === 'xen') xen.set(p.id, p);
  const ids = new Set(inputs.filter((i) => i.kind === 'xen').map((i) => String(i.id)));
  return { profiles: xen, errors: errors.filter((e) => ids.has(e.path.split('.')[0])) };
}

/** The firmware XEN_EFI.fd: a profile that boots it gives the image UEFI, any other kernel is direct. */
export const XEN_EFI = 'XEN_EFI.fd';

/** Whether the profile boots the image through UEFI firmware (XEN_EFI.fd) rather than a kernel directly. */
export const bootsFirmware = (p: Pick<XenProfile, 'kernel'>) => p.kernel.split('/').pop() === XEN_EFI;
