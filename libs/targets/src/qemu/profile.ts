import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  qemuMachineFields,
  qemuProfileSchema,
  type QemuMachine,
  type QemuTargetProfile,
} from '@vmfarm/protocol';

/** The qemu fields are defined once, in @vmfarm/protocol (the controller validates the same data). */
export { ARCHES, CONSOLE_KINDS, QEMU_ACCELS, QEMU_BINARIES, QEMU_CPUS } from '@vmfarm/protocol';
export type { Arch, ConsoleKind, QemuAccel, QemuBinary, QemuCpu, QemuMachine } from '@vmfarm/protocol';

/** A resolved QEMU target profile. Field names are flat so that `extends` is a shallow merge. */
export type QemuProfile = Omit<QemuTargetProfile, 'extends'>;

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

type Rule = (v: unknown) => string | null;
const rule =
  (schema: {
    safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } };
  }): Rule =>
  (v) => {
    const result = schema.safeParse(v);
    return result.success ? null : result.error!.issues[0].message;
  };

const MACHINE_RULES = Object.fromEntries(
  Object.entries(qemuMachineFields).map(([key, schema]) => [key, rule(schema)]),
) as Record<keyof QemuMachine, Rule>;

const RULES: Record<keyof QemuProfile | 'extends', Rule> = {
  ...MACHINE_RULES,
  id: rule(qemuProfileSchema.shape.id),
  extends: (v) => (typeof v === 'string' ? null : 'must be a profile id'),
  kind: rule(qemuProfileSchema.shape.kind),
  description: rule(qemuProfileSchema.shape.description),
  arch: rule(qemuProfileSchema.shape.arch),
  stageLimits: rule(qemuProfileSchema.shape.stageLimits),
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

/** Fields a profile may leave out (their schema takes `undefined`). */
const OPTIONAL = new Set(
  Object.entries(qemuMachineFields)
    .filter(([, schema]) => schema.safeParse(undefined).success)
    .map(([key]) => key),
);

function checkComplete(p: Record<string, unknown>): ProfileIssue[] {
  const required = [...Object.keys(MACHINE_RULES).filter((k) => !OPTIONAL.has(k)), 'kind', 'arch'];
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

/** The bundled profiles, deploy/targets/ of the repository (from dist/src/qemu/ of this lib); the controller serves the same files. */
export const BUNDLED_PROFILES_DIR = join(__dirname, '../../../../../deploy/targets');

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
