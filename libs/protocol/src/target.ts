import { z } from 'zod';
import { archSchema, ARCHES } from './verdict';

/**
 * Target profiles: data, one schema per target kind, discriminated on `kind`. Every kind has the
 * common fields (`commonProfileFields`: id, description, extends, arch, stageLimits) and adds its
 * own, flat (so `extends` is a shallow merge). To add a kind (`emulator`, `xen`): define its fields
 * as an object of schemas here (as `qemuMachineFields`), add
 * `z.strictObject({ ...commonProfileFields, kind: z.literal('<kind>'), arch: archListSchema, ...fields })`
 * to PROFILE_SCHEMAS and its kind to TARGET_KINDS, list the fields that name host files in
 * HOST_FILE_FIELDS, and spread its fields (partial) into targetCreateSchema. A field name two kinds
 * share must have one schema. The driver of the kind (libs/targets) resolves what the fields name.
 */

export const TARGET_KINDS = ['static', 'qemu', 'xen', 'emulator'] as const;
export const targetKindSchema = z.enum(TARGET_KINDS);
export type TargetKind = z.infer<typeof targetKindSchema>;

export const targetIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, . _ -');

export const QEMU_BINARIES = ['qemu-system-aarch64', 'qemu-system-arm'] as const;
export const QEMU_ACCELS = ['tcg', 'kvm'] as const;
/** `host` is KVM's pass-through model; the others are what TCG and the VM spec's profiles use. */
export const QEMU_CPUS = ['cortex-a57', 'cortex-a72', 'cortex-a15', 'host'] as const;
export const CONSOLE_KINDS = ['pl011', 'virtio-console'] as const;

const oneOf = <const T extends readonly [string | number, ...(string | number)[]]>(values: T) =>
  z.literal(values, {
    error: `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}`,
  });
const intIn = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
/** A file name a profile may give for a host file: no directory part, nothing hidden. */
export const HOST_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** A profile value that names a host path (admins only) rather than a file the host offers by name. */
export const isHostPath = (v: unknown): v is string => typeof v === 'string' && v.startsWith('/');

/**
 * A host file: a name the agent resolves against what its host offers (e.g. `AAVMF_VARS.ms.fd`, found
 * in the firmware directories it probes), or an absolute path, which only an admin may give.
 */
const hostFile = () => {
  const error =
    'must be a file name the host offers (e.g. AAVMF_VARS.fd) or, given by an admin, an absolute path';
  return z
    .string({ error })
    .max(4096, { error })
    .refine((v) => HOST_FILE_NAME.test(v) || (isHostPath(v) && !v.includes('\0')), { error });
};

/** The machine a qemu profile describes: what a boot may override. Flat, so `extends` is a shallow merge. */
export const qemuMachineFields = {
  binary: oneOf(QEMU_BINARIES),
  accel: oneOf(QEMU_ACCELS),
  cpu: oneOf(QEMU_CPUS),
  gic: oneOf([2, 3]),
  /** `on`: the firmware publishes ACPI tables; `off`: only the FDT describes the machine. */
  acpi: oneOf(['on', 'off']),
  memoryMiB: intIn(128, 65536),
  smp: intIn(1, 64),
  console: oneOf(CONSOLE_KINDS),
  // Each port takes a slot of pcie.0, which has 32 and needs some for the disk and console.
  hotplugPorts: intIn(0, 16),
  /** The firmware's code (pflash unit 0), by name: `AAVMF_CODE.fd`, `AAVMF32_CODE.fd`. */
  firmwareCode: hostFile(),
  /** The variable-store template each instance gets a sparse copy of, by name: `AAVMF_VARS.ms.fd`. */
  firmwareVars: hostFile(),
  /**
   * `persistent` (the default): the instance keeps its store across resets and power cycles.
   * `volatile`: every start of the VM gets a fresh copy of the template, as an implementation that
   * throws variables away would (FW-NVRAM fails on it: a profile for testing the farm's checks).
   */
  nvram: oneOf(['persistent', 'volatile']).optional(),
};
export const qemuMachineSchema = z.object(qemuMachineFields);
export type QemuMachine = z.infer<typeof qemuMachineSchema>;
export type QemuBinary = QemuMachine['binary'];
export type QemuAccel = QemuMachine['accel'];
export type QemuCpu = QemuMachine['cpu'];
export type ConsoleKind = QemuMachine['console'];

/**
 * The domU a xen profile describes (the `xl` config the driver writes). `kernel` is what xl loads as
 * the domain's kernel: XEN_EFI.fd (edk2's ArmVirtXen, UEFI in the domU: the image boots from its ESP)
 * or, for the direct variants, a Linux Image the host offers (no firmware in the domU at all).
 */
export const xenDomainFields = {
  memoryMiB: qemuMachineFields.memoryMiB,
  smp: qemuMachineFields.smp,
  kernel: hostFile(),
  /** The initrd of a directly booted kernel (xl's `ramdisk=`). */
  ramdisk: hostFile().optional(),
  /** The command line of a directly booted kernel (xl's `extra=`). */
  cmdline: z.string().max(1024).optional(),
  /** The dom0 bridge the domain's vifs join. */
  bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'a network interface name'),
};
export const xenDomainSchema = z.object(xenDomainFields);
export type XenDomain = z.infer<typeof xenDomainSchema>;

const archListSchema = z
  .array(archSchema, { error: `must be a non-empty list of ${ARCHES.join(', ')}` })
  .min(1, { error: `must be a non-empty list of ${ARCHES.join(', ')}` });

/** The named stages of a live suite (LAVA's actions), each with its own time limit. */
export const STAGES = ['boot', 'ready', 'act', 'observe', 'judge'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * Time limits in seconds, per stage of a live suite and for a whole attempt; a profile gives only the
 * ones it changes (a slow host: a longer `ready`). A stage or attempt that overruns ends as ERROR.
 */
export const stageLimitsSchema = z.strictObject(
  Object.fromEntries([...STAGES, 'attempt'].map((s) => [s, intIn(1, 86_400).optional()])) as Record<
    Stage | 'attempt',
    z.ZodOptional<ReturnType<typeof intIn>>
  >,
);
export type StageLimits = z.infer<typeof stageLimitsSchema>;

/** Fields every target profile has, whatever its kind. */
export const commonProfileFields = {
  id: targetIdSchema,
  description: z.string().default(''),
  /** The base profile whose fields this one inherits (already merged in a resolved profile). */
  extends: targetIdSchema.optional(),
  /** Overrides of the default stage and attempt time limits (seconds). */
  stageLimits: stageLimitsSchema.optional(),
};

export const staticProfileSchema = z.strictObject({
  ...commonProfileFields,
  kind: z.literal('static'),
  arch: archListSchema.default([...ARCHES]),
});

export const qemuProfileSchema = z.strictObject({
  ...commonProfileFields,
  kind: z.literal('qemu'),
  /** Guest architectures this profile runs. */
  arch: archListSchema,
  ...qemuMachineFields,
});
export type QemuTargetProfile = z.infer<typeof qemuProfileSchema>;

export const xenProfileSchema = z.strictObject({
  ...commonProfileFields,
  kind: z.literal('xen'),
  arch: archListSchema,
  ...xenDomainFields,
});
export type XenTargetProfile = z.infer<typeof xenProfileSchema>;

/**
 * The machine of the bundled emulator (QEMU's `virt,highmem=off` in TypeScript): the qemu fields it
 * shares, with the same schemas; its driver refuses the values the machine cannot give yet.
 */
export const emulatorMachineFields = {
  gic: qemuMachineFields.gic,
  acpi: qemuMachineFields.acpi,
  memoryMiB: qemuMachineFields.memoryMiB,
  smp: qemuMachineFields.smp,
  console: qemuMachineFields.console,
  hotplugPorts: qemuMachineFields.hotplugPorts,
  firmwareCode: qemuMachineFields.firmwareCode,
  firmwareVars: qemuMachineFields.firmwareVars,
  nvram: qemuMachineFields.nvram,
};

export const emulatorProfileSchema = z.strictObject({
  ...commonProfileFields,
  kind: z.literal('emulator'),
  arch: archListSchema,
  ...emulatorMachineFields,
});
export type EmulatorTargetProfile = z.infer<typeof emulatorProfileSchema>;

/** One schema per kind: adding a kind is adding its entry here (see the top of this file). */
const PROFILE_SCHEMAS = [
  staticProfileSchema,
  qemuProfileSchema,
  xenProfileSchema,
  emulatorProfileSchema,
] as const;

/** A target profile is data; `extends` names a base profile whose fields it inherits. */
export const targetProfileSchema = z.discriminatedUnion('kind', PROFILE_SCHEMAS);
export type TargetProfile = z.infer<typeof targetProfileSchema>;

/** The fields of each kind that name a file of the agent's host (firmware, binaries). */
export const HOST_FILE_FIELDS: Readonly<Record<TargetKind, readonly string[]>> = {
  static: [],
  qemu: ['firmwareCode', 'firmwareVars'],
  xen: ['kernel', 'ramdisk'],
  emulator: ['firmwareCode', 'firmwareVars'],
};

/**
 * The host paths a profile as written (a request, a file) names itself, with their fields: only an
 * admin may give one. Inherited values do not count (the base's author chose them).
 */
export function hostPathsNamed(input: Readonly<Record<string, unknown>>): { field: string; path: string }[] {
  const fields = new Set(Object.values(HOST_FILE_FIELDS).flat());
  return Object.entries(input)
    .filter(([field, value]) => fields.has(field) && isHostPath(value))
    .map(([field, path]) => ({ field, path: path as string }));
}

/** Body of `POST /api/targets`: with `extends`, omitted fields come from that base profile. */
export const targetCreateSchema = z.strictObject({
  id: targetIdSchema,
  kind: targetKindSchema.optional(),
  description: z.string().max(1000).optional(),
  extends: targetIdSchema.optional(),
  arch: archListSchema.optional(),
  stageLimits: stageLimitsSchema.optional(),
  ...qemuMachineSchema.partial().shape,
  ...xenDomainSchema.partial().shape,
});
export type TargetCreate = z.infer<typeof targetCreateSchema>;

/**
 * Resolves `extends` chains among profiles as written (files or requests): a profile's own fields win
 * over its base's, then the result is validated whole. Every problem of every profile is listed.
 */
export function resolveTargetProfiles(
  inputs: readonly Record<string, unknown>[],
  known: ReadonlyMap<string, TargetProfile> = new Map(),
): { profiles: TargetProfile[]; errors: { path: string; message: string }[] } {
  const errors: { path: string; message: string }[] = [];
  const byId = new Map<string, Record<string, unknown>>();
  for (const input of inputs) {
    const id = String(input.id);
    if (byId.has(id) || known.has(id)) errors.push({ path: `${id}.id`, message: 'defined twice' });
    else byId.set(id, input);
  }
  const merged = new Map<string, Record<string, unknown> | null>();
  const merge = (id: string, chain: string[]): Record<string, unknown> | null => {
    if (merged.has(id)) return merged.get(id)!;
    const input = byId.get(id)!;
    const baseId = input.extends;
    let base: Record<string, unknown> | null = {};
    if (typeof baseId === 'string') {
      if (chain.includes(baseId)) {
        errors.push({ path: `${id}.extends`, message: `cycle: ${[...chain, id, baseId].join(' -> ')}` });
        base = null;
      } else if (byId.has(baseId)) base = merge(baseId, [...chain, id]);
      else if (known.has(baseId)) base = { ...known.get(baseId) };
      else {
        errors.push({ path: `${id}.extends`, message: `unknown base target '${baseId}'` });
        base = null;
      }
      if (base) delete base.extends;
    }
    const own = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const result = base && { ...base, ...own };
    merged.set(id, result);
    return result;
  };
  const profiles: TargetProfile[] = [];
  for (const id of byId.keys()) {
    const result = merge(id, []);
    if (!result) continue;
    const parsed = targetProfileSchema.safeParse(result);
    if (parsed.success) profiles.push(parsed.data);
    else
      for (const issue of parsed.error.issues)
        errors.push({ path: [id, ...issue.path.map(String)].join('.'), message: issue.message });
  }
  return { profiles, errors };
}
