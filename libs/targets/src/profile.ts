import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A QEMU target profile, as data. Field names are flat so that `extends` is a shallow merge. */
export const QEMU_BINARIES = ['qemu-system-aarch64', 'qemu-system-arm'] as const;
export const QEMU_ACCELS = ['tcg', 'kvm'] as const;
/** `host` is KVM's pass-through model; the others are what TCG and the VM spec's profiles use. */
export const QEMU_CPUS = ['cortex-a57', 'cortex-a72', 'cortex-a15', 'host'] as const;
export const CONSOLE_KINDS = ['pl011', 'virtio-console'] as const;
export const ARCHES = ['aarch64', 'aarch32'] as const;

export type QemuBinary = (typeof QEMU_BINARIES)[number];
export type QemuAccel = (typeof QEMU_ACCELS)[number];
export type QemuCpu = (typeof QEMU_CPUS)[number];
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];
export type Arch = (typeof ARCHES)[number];

/** What a boot may change of a profile (the session spec's `overrides`). */
export interface QemuMachine {
  binary: QemuBinary;
  accel: QemuAccel;
  cpu: QemuCpu;
  gic: 2 | 3;
  /** `on`: the firmware publishes ACPI tables; `off`: only the FDT describes the machine. */
  acpi: 'on' | 'off';
  memoryMiB: number;
  smp: number;
  console: ConsoleKind;
  /** Empty `pcie-root-port`s for hotplug. */
  hotplugPorts: number;
  firmwareCode: string;
  /** The template each instance gets a sparse copy of. */
  firmwareVars: string;
}

export interface QemuProfile extends QemuMachine {
  id: string;
  kind: 'qemu';
  description: string;
  /** Guest architectures this profile runs. */
  arch: Arch[];
}

/** A profile as written in a file: everything but `id` may come from the base it `extends`. */
export type QemuProfileInput = Partial<QemuProfile> & { id: string; extends?: string };
export type MachineOverrides = Partial<QemuMachine>;

export interface ProfileIssue {
  /** Profile id and field, e.g. `qemu-aarch64-tcg.gic`. */
  path: string;
  message: string;
}

export class ProfileError extends Error {
  override name = 'ProfileError';
  constructor(readonly issues: ProfileIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  }
}

const oneOf =
  (values: readonly unknown[]) =>
  (v: unknown): string | null =>
    values.includes(v) ? null : `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
const intIn =
  (min: number, max: number) =>
  (v: unknown): string | null =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? null
      : `must be an integer from ${min} to ${max}`;
const absolutePath = (v: unknown): string | null =>
  typeof v === 'string' && v.startsWith('/') ? null : 'must be an absolute path';

const MACHINE_RULES: Record<keyof QemuMachine, (v: unknown) => string | null> = {
  binary: oneOf(QEMU_BINARIES),
  accel: oneOf(QEMU_ACCELS),
  cpu: oneOf(QEMU_CPUS),
  gic: oneOf([2, 3]),
  acpi: oneOf(['on', 'off']),
  memoryMiB: intIn(128, 65536),
  smp: intIn(1, 64),
  console: oneOf(CONSOLE_KINDS),
  // Each port takes a slot of pcie.0, which has 32 and needs some for the disk and console.
  hotplugPorts: intIn(0, 16),
  firmwareCode: absolutePath,
  firmwareVars: absolutePath,
};

const RULES: Record<keyof QemuProfile | 'extends', (v: unknown) => string | null> = {
  ...MACHINE_RULES,
  id: (v) =>
    typeof v === 'string' && /^[a-z0-9][a-z0-9._-]{0,62}$/.test(v)
      ? null
      : 'lowercase letters, digits, . _ -',
  extends: (v) => (typeof v === 'string' ? null : 'must be a profile id'),
  kind: oneOf(['qemu']),
  description: (v) => (typeof v === 'string' ? null : 'must be a string'),
  arch: (v) =>
    Array.isArray(v) && v.length > 0 && v.every((a) => ARCHES.includes(a))
      ? null
      : `must be a non-empty list of ${ARCHES.join(', ')}`,
};

function checkFields(
  where: string,
  fields: Record<string, unknown>,
  rules: Record<string, (v: unknown) => string | null>,
) {
  const issues: ProfileIssue[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const rule = rules[key];
    const problem = rule ? rule(value) : 'unknown field';
    if (problem) issues.push({ path: `${where}.${key}`, message: problem });
  }
  return issues;
}

function checkComplete(p: Record<string, unknown>): ProfileIssue[] {
  const required = [...Object.keys(MACHINE_RULES), 'kind', 'arch'];
  return required
    .filter((key) => p[key] === undefined)
    .map((key) => ({ path: `${String(p.id)}.${key}`, message: 'required (here or in the base profile)' }));
}

/**
 * Resolves `extends` chains of any depth: a profile's own fields win over its base's. Every problem of
 * every profile is reported at once (unknown base, cycle, bad or missing field).
 */
export function resolveProfiles(inputs: readonly QemuProfileInput[]): {
  profiles: Map<string, QemuProfile>;
  issues: ProfileIssue[];
} {
  const issues: ProfileIssue[] = [];
  const byId = new Map<string, QemuProfileInput>();
  for (const input of inputs) {
    const where = typeof input.id === 'string' ? input.id : '(profile without id)';
    issues.push(...checkFields(where, input, RULES));
    if (byId.has(input.id)) issues.push({ path: `${where}.id`, message: 'defined twice' });
    else byId.set(input.id, input);
  }

  const merged = new Map<string, Record<string, unknown> | null>();
  const merge = (id: string, chain: string[]): Record<string, unknown> | null => {
    if (merged.has(id)) return merged.get(id)!;
    const input = byId.get(id)!;
    let base: Record<string, unknown> | null = {};
    if (input.extends !== undefined) {
      if (chain.includes(input.extends)) {
        issues.push({
          path: `${id}.extends`,
          message: `cycle: ${[...chain, id, input.extends].join(' -> ')}`,
        });
        base = null;
      } else if (!byId.has(input.extends)) {
        issues.push({ path: `${id}.extends`, message: `unknown base profile '${input.extends}'` });
        base = null;
      } else base = merge(input.extends, [...chain, id]);
    }
    const { extends: _base, ...own } = input;
    const result = base && { description: '', ...base, ...withoutUndefined(own) };
    merged.set(id, result);
    return result;
  };

  const profiles = new Map<string, QemuProfile>();
  for (const id of byId.keys()) {
    const result = merge(id, []);
    if (!result) continue;
    const missing = checkComplete(result);
    issues.push(...missing);
    if (!missing.length) profiles.set(id, result as unknown as QemuProfile);
  }
  // A broken profile is left out; one whose base is broken is left out with it.
  for (const issue of issues) profiles.delete(issue.path.split('.')[0]);
  return { profiles, issues };
}

/** Resolves one profile by id or throws a ProfileError listing every problem on its way. */
export function resolveProfile(id: string, inputs: readonly QemuProfileInput[]): QemuProfile {
  const { profiles, issues } = resolveProfiles(inputs);
  const profile = profiles.get(id);
  if (profile) return profile;
  throw new ProfileError(issues.length ? issues : [{ path: id, message: 'no such profile' }]);
}

/** The profile with a boot's overrides applied; a bad override throws a ProfileError. */
export function applyOverrides(profile: QemuProfile, overrides: MachineOverrides = {}): QemuProfile {
  const issues = checkFields(`${profile.id} override`, overrides as Record<string, unknown>, MACHINE_RULES);
  if (issues.length) throw new ProfileError(issues);
  return { ...profile, ...withoutUndefined(overrides) };
}

/** The bundled base profiles (from dist/src/ of this lib). */
export const BUNDLED_PROFILES_DIR = join(__dirname, '../../profiles');

/** The `*.json` profile files of a directory whose `kind` is `qemu` (other kinds are not ours). */
export function loadProfileInputs(dir: string): QemuProfileInput[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as QemuProfileInput & { kind?: string };
      } catch (err) {
        throw new ProfileError([{ path: file, message: (err as Error).message }]);
      }
    })
    .filter((p) => p.kind === 'qemu');
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
