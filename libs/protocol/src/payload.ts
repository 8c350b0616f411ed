import { z } from 'zod';
import { isClauseId } from './clauses';

/**
 * Third-party conformance payloads as data (issue 13): UEFI applications run from the UEFI Shell
 * by a `startup.nsh` the farm writes, a time limit, and the parser that turns the payload's log
 * into verdicts. The bytes are the user's (the project does not redistribute Arm's binaries); the
 * manifest says what they are and how to run them.
 */

/** Parsers the farm has: `arm-acs` reads the logs of Arm's architecture compliance suites (VBSA, BSA). */
export const PAYLOAD_PARSERS = ['arm-acs'] as const;
export const payloadParserSchema = z.enum(PAYLOAD_PARSERS);
export type PayloadParser = z.infer<typeof payloadParserSchema>;

export const payloadNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'lowercase letters, digits and -, starting with a letter');
export const payloadVersionSchema = z
  .string()
  .regex(/^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$/, 'letters, digits . _ + -');

/**
 * A file of the payload as it goes on the ESP, beside the Shell in \EFI\BOOT: a plain name (the
 * FAT builder gives it an 8.3 alias and a long name), no directory part.
 */
export const PAYLOAD_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const payloadFileSchema = z.object({
  file: z.string().regex(PAYLOAD_FILE_NAME, 'a plain file name (letters, digits . _ -), no directory'),
  /** The file's sha256 (lowercase hex): an upload whose file differs is refused. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

/** A startup.nsh argument value: no characters the Shell would read as syntax. */
const SHELL_ARG = /^[A-Za-z0-9_.,:=+-]*$/;

/** A rule pattern: an id with an optional trailing `*` (`V_L1GI_*`). */
const RULE_PATTERN = /^[A-Z][A-Z0-9_]*\*?$/;

export const payloadRelationSchema = z.object({
  rules: z.string().regex(RULE_PATTERN, 'a rule id, or a prefix ending in *'),
  clauses: z
    .array(z.string().refine(isClauseId, { error: 'an unknown clause id' }))
    .min(1)
    .max(8),
  /** Why the rule bears on the clauses (shown beside them). */
  why: z.string().max(300).optional(),
});
export type PayloadRelation = z.infer<typeof payloadRelationSchema>;

export const payloadManifestSchema = z.strictObject({
  name: payloadNameSchema,
  version: payloadVersionSchema,
  title: z.string().max(200).optional(),
  /** Where the maker publishes it (for users adding a newer release). */
  source: z.string().max(500).optional(),
  licence: z.string().max(100).optional(),
  arch: z.literal('aarch64'),
  /**
   * The hardware description the payload reads: `acpi` (VBSA needs the XSDT) makes the suite boot
   * the target with ACPI on, as the description suite does for its ACPI boot; a target that
   * cannot give it is SKIP, with the reason.
   */
  description: z.enum(['acpi', 'fdt', 'any']).default('any'),
  /** UEFI applications; the first is the one `startup.nsh` runs. */
  apps: z.array(payloadFileSchema).min(1).max(8),
  /**
   * A UEFI Shell application the farm puts at the removable path; absent: the firmware's built-in
   * shell runs `startup.nsh` (where the target's firmware has one).
   */
  shell: payloadFileSchema.optional(),
  startup: z.object({
    /**
     * Lines of startup.nsh after the farm's own prologue (which finds the payload's volume and
     * changes to \EFI\BOOT); `{app}` is the first app's name and `{args}` the arguments.
     */
    template: z.array(z.string().max(200)).min(1).max(20),
    /** Default arguments; a run may give others (each checked against SHELL_ARG). */
    args: z.array(z.string().regex(SHELL_ARG).max(100)).max(32).default([]),
  }),
  /** From the Shell's start to the parser's end marker; past it the run ends ERROR with the partial log. */
  timeLimitSeconds: z
    .number()
    .int()
    .min(10)
    .max(24 * 3600),
  parser: payloadParserSchema,
  /** Rule ids become `<namespace>:<rule>` verdicts (`VBSA:V_L1PE_01`). */
  namespace: z.string().regex(/^[A-Z][A-Z0-9]{0,15}$/),
  /** The text the payload prints when it has finished (the parser's end marker). */
  endMarker: z.string().min(1).max(200),
  relations: z.array(payloadRelationSchema).max(100).default([]),
});
export type PayloadManifest = z.infer<typeof payloadManifestSchema>;

/** `POST /api/payloads`: the manifest and every file it names, in base64. */
export const payloadCreateSchema = z.strictObject({
  manifest: payloadManifestSchema,
  files: z
    .array(
      z.strictObject({
        file: z.string().regex(PAYLOAD_FILE_NAME),
        contentBase64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'),
      }),
    )
    .min(1)
    .max(9),
});
export type PayloadCreate = z.infer<typeof payloadCreateSchema>;

/** A payload as the controller lists it. */
export const payloadInfoSchema = z.object({
  id: z.string(),
  name: payloadNameSchema,
  version: payloadVersionSchema,
  /** sha256 of the payload's content (manifest and files). */
  sha256: z.string(),
  /** The boot disk the farm built for it, stored as an image (what its runs boot). */
  image: z.string(),
  /** The tenant that owns it; null: public (an admin's). */
  owner: z.string().nullable(),
  createdAt: z.string(),
  manifest: payloadManifestSchema,
  files: z.array(z.object({ file: z.string(), size: z.number(), sha256: z.string() })),
});
export type PayloadInfo = z.infer<typeof payloadInfoSchema>;

/** `VBSA:V_L1PE_01`. */
export const payloadRuleId = (namespace: string, rule: string): string => `${namespace}:${rule}`;

/** A verdict clause that is a payload's rule rather than a clause of the spec. */
export const PAYLOAD_RULE_ID = /^([A-Z][A-Z0-9]{0,15}):([A-Z][A-Z0-9_]*)$/;

/** The clauses of the spec a rule bears on, from the manifest's relations. */
export function relatedClauses(relations: readonly PayloadRelation[], rule: string): string[] {
  const out = new Set<string>();
  for (const r of relations) {
    const hit = r.rules.endsWith('*') ? rule.startsWith(r.rules.slice(0, -1)) : rule === r.rules;
    if (hit) for (const c of r.clauses) out.add(c);
  }
  return [...out];
}

/** Fills the manifest's template: `{app}` and `{args}`; refuses arguments the Shell would misread. */
export function startupLines(manifest: PayloadManifest, args?: readonly string[]): string[] {
  const use = args ?? manifest.startup.args;
  for (const a of use)
    if (!SHELL_ARG.test(a) || a.length > 100)
      throw new Error(`payload argument ${JSON.stringify(a)} refused`);
  const app = manifest.apps[0]!.file;
  return manifest.startup.template.map((line) =>
    line.replaceAll('{app}', app).replaceAll('{args}', use.join(' ')).trimEnd(),
  );
}
