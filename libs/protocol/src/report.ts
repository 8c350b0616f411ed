import { z } from 'zod';
import { knownFailureSchema } from './triage';
import { archSchema, imageFormatSchema, verdictRecordSchema } from './verdict';

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
