import { z } from 'zod';
import { knownFailureSchema } from './triage';
import { archSchema, imageFormatSchema, verdictRecordSchema, type VerdictRecord } from './verdict';

/** The documented JSON report contract (README "Reports"). */
export const imageInfoSchema = z.object({
  /** Always set for submitted images; null from a local `vmfarm check` run without --sha256. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  size: z.number().int().nonnegative(),
  format: imageFormatSchema,
  arch: archSchema.nullable(),
});
export type ImageInfo = z.infer<typeof imageInfoSchema>;

export const summarySchema = z.object({
  total: z.number().int(),
  pass: z.number().int(),
  /** FAILs no known issue explains. */
  fail: z.number().int(),
  /** FAILs a known issue explains: still FAILs (in mustFailures, in `result`), counted apart. */
  known: z.number().int().default(0),
  error: z.number().int(),
  skip: z.number().int(),
  /** Clause IDs with a MUST-level FAIL. */
  mustFailures: z.array(z.string()),
  /** Clause IDs with a SHOULD-level FAIL: warnings the report shows. */
  warnings: z.array(z.string()),
  /** Clause IDs whose FAIL a known issue explains. */
  knownFailures: z.array(z.string()).default([]),
  /** FAIL when a MUST clause fails; else ERROR when anything errored; else PASS. */
  result: z.enum(['PASS', 'FAIL', 'ERROR']),
});
export type Summary = z.infer<typeof summarySchema>;

export const imageReportSchema = z.object({
  image: imageInfoSchema,
  verdicts: z.array(verdictRecordSchema),
  summary: summarySchema,
});
export type ImageReport = z.infer<typeof imageReportSchema>;

export const runStateSchema = z.enum(['queued', 'running', 'retrying', 'done']);
export type RunState = z.infer<typeof runStateSchema>;

export const matrixCellSchema = imageReportSchema.extend({
  /** The submitted image: its hash, and the name and version it was uploaded under. */
  image: imageInfoSchema.extend({ name: z.string(), version: z.string().nullable() }),
  runId: z.string(),
  target: z.string(),
  suite: z.string(),
  state: runStateSchema,
  attempts: z.number().int(),
  /** FAILs of this cell that known issues explain, naming them. */
  known: z.array(knownFailureSchema).default([]),
  /** A re-run of this run (retry before regression); null for a run of the original plan. */
  retryOf: z.string().nullable().default(null),
  /** The retry whose verdict replaced this cell's: the matrix summary counts that one instead. */
  supersededBy: z.string().nullable().default(null),
});
export type MatrixCell = z.infer<typeof matrixCellSchema>;

export const matrixReportSchema = z.object({
  matrix: z.object({
    id: z.string(),
    createdAt: z.string(),
    state: z.enum(['running', 'done']),
    progress: z.object({ done: z.number().int(), total: z.number().int() }),
  }),
  cells: z.array(matrixCellSchema),
  /** Set when the report holds one page of the cells (?offset=&limit=); the summary counts them all. */
  page: z.object({ offset: z.number().int(), limit: z.number().int(), total: z.number().int() }).optional(),
  summary: summarySchema,
});
export type MatrixReport = z.infer<typeof matrixReportSchema>;

/** `known(v)`: a known issue explains this FAIL (then it is counted apart, and still fails). */
export function summarize(
  verdicts: readonly VerdictRecord[],
  known: (v: VerdictRecord) => boolean = () => false,
): Summary {
  const count = (v: string) => verdicts.filter((x) => x.verdict === v).length;
  const knownFails = verdicts.filter((x) => x.verdict === 'FAIL' && known(x));
  const failing = (level: string) => [
    ...new Set(verdicts.filter((x) => x.verdict === 'FAIL' && x.level === level).map((x) => x.clause)),
  ];
  const mustFailures = failing('MUST');
  const error = count('ERROR');
  return {
    total: verdicts.length,
    pass: count('PASS'),
    fail: count('FAIL') - knownFails.length,
    known: knownFails.length,
    error,
    skip: count('SKIP'),
    mustFailures,
    warnings: failing('SHOULD'),
    knownFailures: [...new Set(knownFails.map((x) => x.clause))],
    result: mustFailures.length > 0 ? 'FAIL' : error > 0 ? 'ERROR' : 'PASS',
  };
}

/** CLI exit codes: 0 no MUST failure, 1 a MUST clause failed, 2 usage or unreadable input, 3 infrastructure error. */
export const EXIT = { ok: 0, mustFailed: 1, usage: 2, infrastructure: 3 } as const;

export function exitCodeFor(summary: Summary): number {
  if (summary.result === 'FAIL') return EXIT.mustFailed;
  if (summary.result === 'ERROR') return EXIT.infrastructure;
  return EXIT.ok;
}
