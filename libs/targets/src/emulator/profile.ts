import { resolveTargetProfiles, type EmulatorTargetProfile } from '@vmfarm/protocol';
import type { VmOverrides } from '@vmfarm/session';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProfileError } from '../qemu/profile';

/** A resolved emulator target profile (`extends` merged in). */
export type EmulatorProfile = Omit<EmulatorTargetProfile, 'extends'>;

/**
 * The emulator profiles of a directory (deploy/targets), resolved and validated by the protocol's
 * schema; profiles of other kinds there serve as bases only.
 */
export function loadEmulatorProfiles(dir: string): Map<string, EmulatorProfile> {
  const inputs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
  const { profiles, errors } = resolveTargetProfiles(inputs);
  const ours = inputs.filter((p) => p.kind === 'emulator').map((p) => String(p.id));
  const bad = errors.filter((e) => ours.includes(e.path.split('.')[0]));
  if (bad.length) throw new ProfileError(bad);
  return new Map(
    profiles.filter((p): p is EmulatorTargetProfile => p.kind === 'emulator').map((p) => [p.id, p] as const),
  );
}

/** The profile with a boot's overrides (the GIC fallback, FDT or ACPI, the console) applied. */
export function applyEmulatorOverrides(profile: EmulatorProfile, o: VmOverrides = {}): EmulatorProfile {
  return {
    ...profile,
    ...(o.gic !== undefined ? { gic: o.gic } : {}),
    ...(o.acpi !== undefined ? { acpi: o.acpi } : {}),
    ...(o.console !== undefined ? { console: o.console } : {}),
  };
}
