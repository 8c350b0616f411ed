import { z } from 'zod';
import { readyPatternProblem } from './pattern';
import { targetIdSchema, targetKindSchema } from './target';
import {
  archSchema,
  imageFormatSchema,
  levelSchema,
  VERDICTS,
  verdictRecordSchema,
  verdictSchema,
} from './verdict';

/** REST contract between the controller, the CLI and agents. All routes live under /api. */

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

/**
 * Text a person reads as one line: no control characters (C0, DEL, C1), no line or paragraph
 * separators, no bidirectional overrides (a name must read as it is stored, in a terminal too).
 */
export const plainTextSchema = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]*$/u, 'must not contain control characters');

/** The name of an image, target, schedule, token or agent. */
export const nameSchema = (max = 200) => plainTextSchema(max).min(1);

export const imageResourceSchema = z.object({
  sha256: sha256Schema,
  size: z.number().int(),
  format: imageFormatSchema,
  /** Declared by the submitter, or detected by the farm (from the removable path); null: unknown. */
  arch: archSchema.nullable(),
  /** The submitter declared `arch`: the suites check the image against it rather than detect it. */
  archDeclared: z.boolean(),
  name: z.string(),
  /** Successive versions of one image share its name; history lines them up by name. */
  version: z.string().nullable(),
  tags: z.array(z.string()),
  /** The tenant that owns it; null: public (an admin's). */
  owner: z.string().nullable(),
  uploadedAs: z.enum(['raw', 'gz', 'xz']),
  createdAt: z.string(),
});
export type ImageResource = z.infer<typeof imageResourceSchema>;

export const tagSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (1 to 64)');
export const imageVersionSchema = z.string().regex(/^[\x21-\x7e]{1,100}$/, 'printable, no spaces (1 to 100)');

/** Query of `PUT /api/images` (body: the image bytes, optionally gzip or xz compressed). */
export const imageUploadQuerySchema = z.object({
  /** Empty: named after its hash. */
  name: plainTextSchema(200).optional(),
  arch: archSchema.optional(),
  version: imageVersionSchema.optional(),
  /** Comma-separated. */
  tags: z
    .string()
    .transform((v) => v.split(',').filter(Boolean))
    .pipe(z.array(tagSchema).max(50))
    .optional(),
});

/** `PATCH /api/images/:sha256`: the fields given replace the stored ones (tags as a whole set). */
export const imagePatchSchema = z
  .object({
    name: nameSchema().optional(),
    version: imageVersionSchema.nullable().optional(),
    tags: z.array(tagSchema).max(50).optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give at least one of name, version, tags');
export type ImagePatch = z.infer<typeof imagePatchSchema>;

export const suiteInfoSchema = z.object({
  id: z.string(),
  title: z.string(),
  subject: z.enum(['image', 'vm', 'guest']),
  clauses: z.array(z.string()),
  targetKinds: z.array(targetKindSchema),
});
export type SuiteInfo = z.infer<typeof suiteInfoSchema>;

export const matrixRequestSchema = z.object({
  /** May be empty when the suites are payloads only (a payload brings its own disk). */
  images: z.array(sha256Schema).max(1000),
  targets: z.array(targetIdSchema).min(1).max(100),
  /** Suite ids, or ['all'] for every suite that can run on each target. */
  suites: z.array(z.string().min(1)).min(1).max(100),
  /**
   * Live suites: a regular expression the guest prints when it is up (tried with the defaults);
   * refused when it could backtrack catastrophically or needs what a linear-time engine lacks.
   */
  ready: z
    .string()
    .min(1)
    .max(500)
    .superRefine((v, ctx) => {
      const problem = readyPatternProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
});
export type MatrixRequest = z.infer<typeof matrixRequestSchema>;

/** 400 answers list every problem at once. */
export const apiErrorSchema = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).default([]),
});
export type ApiError = z.infer<typeof apiErrorSchema>;

export const agentCapabilitiesSchema = z.object({
  targetKinds: z.array(targetKindSchema),
  /** Free-form probe results shown on the dashboard (binaries found, KVM, firmware files). */
  probes: z.record(z.string(), z.unknown()).default({}),
  concurrency: z.number().int().min(1).max(64).default(1),
});
export type AgentCapabilities = z.infer<typeof agentCapabilitiesSchema>;

export const agentRegistrationSchema = z.object({
  name: nameSchema(),
  host: nameSchema(),
  version: plainTextSchema(50),
  capabilities: agentCapabilitiesSchema,
});
export type AgentRegistration = z.infer<typeof agentRegistrationSchema>;

export const agentRegisteredSchema = z.object({
  id: z.string(),
  redisUrl: z.string(),
  queuePrefix: z.string(),
  heartbeatSeconds: z.number(),
});
export type AgentRegistered = z.infer<typeof agentRegisteredSchema>;

export const attemptStartSchema = z.object({ agentId: z.string().min(1) });

export const artifactSchema = z.object({
  // A file name in the attempt's artifact directory: never '.' or '..'.
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .refine((n) => !/^\.+$/.test(n), 'must not be only dots'),
  /** base64 of the artifact bytes; large artifacts are uploaded separately (later issues). */
  contentBase64: z.string().max(16 * 1024 * 1024),
  mediaType: z.string().default('application/octet-stream'),
});

export const attemptResultSchema = z.object({
  agentId: z.string().min(1),
  verdicts: z.array(verdictRecordSchema),
  image: z.object({ format: imageFormatSchema, arch: archSchema.nullable() }).optional(),
  /** Set when the attempt broke for infrastructure reasons (then verdicts carry ERROR). */
  error: z.string().optional(),
  durationMs: z.number().nonnegative(),
  artifacts: z.array(artifactSchema).default([]),
});
export type AttemptResult = z.infer<typeof attemptResultSchema>;

export const attemptAckSchema = z.object({
  /** false when this attempt had already been recorded: nothing changed. */
  recorded: z.boolean(),
  /** true when the run awaits another attempt (the attempt was an ERROR and attempts remain). */
  retry: z.boolean(),
});
export type AttemptAck = z.infer<typeof attemptAckSchema>;

/* Views the controller answers with (added with the controller; the CLI and dashboard read them). */

/** What agents and the CLI learn from `GET /api/config`. */
export const farmConfigSchema = z.object({ redisUrl: z.string(), queuePrefix: z.string() });
export type FarmConfig = z.infer<typeof farmConfigSchema>;

/** Answer of `POST /api/runs/:id/attempts/:n/start`: proceed is false when the run is already done. */
export const attemptStartedSchema = z.object({
  proceed: z.boolean(),
  state: z.enum(['queued', 'running', 'retrying', 'done']),
});
export type AttemptStarted = z.infer<typeof attemptStartedSchema>;

export const agentViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  host: z.string(),
  version: z.string(),
  capabilities: agentCapabilitiesSchema,
  registeredAt: z.string(),
  lastHeartbeat: z.string(),
  online: z.boolean(),
});
export type AgentView = z.infer<typeof agentViewSchema>;

export const attemptViewSchema = z.object({
  attempt: z.number().int(),
  agentId: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** PASS | FAIL | ERROR | SKIP, or `lost` when a later attempt started before this one reported. */
  outcome: z.string().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().nullable(),
});

export const artifactViewSchema = z.object({
  attempt: z.number().int(),
  name: z.string(),
  mediaType: z.string(),
  size: z.number().int(),
});

export const runViewSchema = z.object({
  id: z.string(),
  matrixId: z.string(),
  image: z.string(),
  target: z.string(),
  targetKind: targetKindSchema,
  suite: z.string(),
  state: z.enum(['queued', 'running', 'retrying', 'done']),
  verdict: z.enum(['PASS', 'FAIL', 'ERROR', 'SKIP']).nullable(),
  attempts: z.array(attemptViewSchema),
  verdicts: z.array(verdictRecordSchema),
  artifacts: z.array(artifactViewSchema),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type RunView = z.infer<typeof runViewSchema>;

/** A cancelled matrix: who cancelled it, when and why (its runs not done then were recorded SKIP). */
export const matrixCancelledSchema = z.object({ at: z.string(), by: z.string(), reason: z.string() });

export const matrixViewSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  /** The schedule that fired it, null for a matrix submitted by hand. */
  scheduleId: z.string().nullable(),
  state: z.enum(['running', 'done']),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  cancelled: matrixCancelledSchema.nullable(),
  request: matrixRequestSchema,
  cells: z.array(
    z.object({
      runId: z.string(),
      image: z.string(),
      target: z.string(),
      suite: z.string(),
      state: z.enum(['queued', 'running', 'retrying', 'done']),
      verdict: z.enum(['PASS', 'FAIL', 'ERROR', 'SKIP']).nullable(),
      attempts: z.number().int(),
      /** Clause IDs the run's final attempt judged FAIL. */
      failing: z.array(z.string()),
    }),
  ),
});
export type MatrixView = z.infer<typeof matrixViewSchema>;

/** An entry of `GET /api/matrices`: counts rather than cells, so that a page stays small. */
export const matrixSummarySchema = matrixViewSchema
  .pick({
    id: true,
    createdAt: true,
    scheduleId: true,
    state: true,
    progress: true,
    cancelled: true,
  })
  .extend({
    counts: z.object({
      PASS: z.number().int(),
      FAIL: z.number().int(),
      ERROR: z.number().int(),
      SKIP: z.number().int(),
    }),
    request: z.object({
      /** How many images (their hashes are on the matrix itself). */
      images: z.number().int(),
      targets: z.array(z.string()),
      suites: z.array(z.string()),
    }),
  });
export type MatrixSummary = z.infer<typeof matrixSummarySchema>;

/** `POST /api/matrices/:id/cancel`. */
export const matrixCancelSchema = z.object({ reason: plainTextSchema(500).optional() }).strict();
export type MatrixCancel = z.infer<typeof matrixCancelSchema>;

/** The answer to a heartbeat: runs this agent holds whose attempt was cancelled (stop them). */
export const heartbeatAnswerSchema = z.object({ ok: z.literal(true), cancel: z.array(z.string()) });
export type HeartbeatAnswer = z.infer<typeof heartbeatAnswerSchema>;

/* Schedules, history, regressions, certification and events. */

/** Which images a schedule tests: those carrying every tag (newest version per name), or fixed ones. */
export const imageSelectorSchema = z.union([
  z.object({ tags: z.array(tagSchema).min(1).max(20) }).strict(),
  z.object({ sha256: z.array(sha256Schema).min(1).max(1000) }).strict(),
]);
export type ImageSelector = z.infer<typeof imageSelectorSchema>;

const scheduleFields = {
  name: nameSchema(),
  /** Five or six fields (seconds first when six), as BullMQ's job schedulers read them. */
  cron: z.string().min(1).max(100),
  /** IANA time zone the cron fields are read in. */
  timezone: z.string().min(1).max(100),
  images: imageSelectorSchema,
  /** Target ids, or ['all']. */
  targets: matrixRequestSchema.shape.targets,
  suites: matrixRequestSchema.shape.suites,
  ready: matrixRequestSchema.shape.ready,
  enabled: z.boolean(),
};

export const scheduleCreateSchema = z
  .object({
    ...scheduleFields,
    timezone: scheduleFields.timezone.default('UTC'),
    enabled: scheduleFields.enabled.default(true),
  })
  .strict();
export type ScheduleCreate = z.infer<typeof scheduleCreateSchema>;

export const schedulePatchSchema = z
  .object({ ...scheduleFields, ready: scheduleFields.ready.nullable() })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give at least one field to change');
export type SchedulePatch = z.infer<typeof schedulePatchSchema>;

export const scheduleViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  cron: z.string(),
  timezone: z.string(),
  images: imageSelectorSchema,
  targets: z.array(z.string()),
  suites: z.array(z.string()),
  ready: z.string().nullable(),
  enabled: z.boolean(),
  owner: z.string().nullable(),
  /** The next time the cron fires (null while disabled). */
  nextRunAt: z.string().nullable(),
  lastMatrixId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ScheduleView = z.infer<typeof scheduleViewSchema>;

/** One firing of a schedule: `skipped` when its previous matrix was still running. */
export const scheduleFireSchema = z.object({
  dueAt: z.string(),
  firedAt: z.string(),
  trigger: z.enum(['cron', 'catch-up', 'manual']),
  outcome: z.enum(['pending', 'started', 'skipped', 'failed']),
  matrixId: z.string().nullable(),
  reason: z.string().nullable(),
});
export type ScheduleFire = z.infer<typeof scheduleFireSchema>;

export const historyPointSchema = z.object({
  at: z.string(),
  matrixId: z.string(),
  runId: z.string(),
  imageSha256: z.string(),
  imageVersion: z.string().nullable(),
  verdict: verdictSchema,
});
export type HistoryPoint = z.infer<typeof historyPointSchema>;

/** Verdicts of one clause for one image name on one target, oldest first. */
export const historySeriesSchema = z.object({
  imageName: z.string(),
  targetId: z.string(),
  clause: z.string(),
  points: z.array(historyPointSchema),
  /** Start of the current (or last) failing streak. */
  firstFailure: z.string().nullable(),
  lastPass: z.string().nullable(),
  /** First PASS after the last FAIL, when the latest judgement is a PASS. */
  fixedAt: z.string().nullable(),
});
export type HistorySeries = z.infer<typeof historySeriesSchema>;

/** Clause verdicts of one matrix, counted. passRate = pass / (pass + fail + error), null when none. */
export const trendPointSchema = z.object({
  at: z.string(),
  matrixId: z.string(),
  pass: z.number().int(),
  fail: z.number().int(),
  error: z.number().int(),
  skip: z.number().int(),
  passRate: z.number().nullable(),
});
export type TrendPoint = z.infer<typeof trendPointSchema>;

export const verdictChangeSchema = z.object({
  imageName: z.string(),
  targetId: z.string(),
  clause: z.string(),
  before: verdictSchema,
  after: verdictSchema,
  /** The run of the later matrix, and of the earlier one. */
  runId: z.string(),
  previousRunId: z.string(),
});
export type VerdictChange = z.infer<typeof verdictChangeSchema>;

const matrixRefSchema = z.object({ matrixId: z.string(), at: z.string() });

/** PASS → FAIL (regressions) and FAIL → PASS (fixes), keyed by image name, target and clause. */
export const regressionsSchema = z.object({
  latest: matrixRefSchema.nullable(),
  previous: matrixRefSchema.nullable(),
  regressions: z.array(verdictChangeSchema),
  fixes: z.array(verdictChangeSchema),
});
export type Regressions = z.infer<typeof regressionsSchema>;

export const CERTIFICATION_VERDICTS = [...VERDICTS, 'NOT-COVERED', 'NOT-RUN'] as const;

export const certificationClauseSchema = z.object({
  clause: z.string(),
  subject: z.enum(['image', 'vm', 'guest']),
  level: levelSchema,
  section: z.string(),
  requirement: z.string(),
  /** NOT-COVERED: no suite judges it (here); NOT-RUN: a suite does, but no run has yet. */
  verdict: z.enum(CERTIFICATION_VERDICTS),
  message: z.string().nullable(),
  evidence: z.record(z.string(), z.unknown()).nullable(),
  suite: z.string().nullable(),
  runId: z.string().nullable(),
  matrixId: z.string().nullable(),
  /** The other side of the run: the image for a target's certification, the target for an image's. */
  imageSha256: z.string().nullable(),
  targetId: z.string().nullable(),
  at: z.string().nullable(),
});
export type CertificationClause = z.infer<typeof certificationClauseSchema>;

/** A payload's rules as last judged (issue 13): listed under its name and version, beside the clauses. */
export const certificationPayloadSchema = z.object({
  name: z.string(),
  version: z.string(),
  rules: z.array(
    z.object({
      /** `VBSA:V_L1GI_01`. */
      rule: z.string(),
      verdict: verdictSchema,
      qualifier: z.enum(['PARTIAL', 'WARNING']).optional(),
      message: z.string(),
      /** Clauses of the spec the rule bears on (the payload's manifest says which). */
      relatedClauses: z.array(z.string()),
      runId: z.string(),
      at: z.string(),
    }),
  ),
});
export type CertificationPayload = z.infer<typeof certificationPayloadSchema>;

export const certificationSchema = z.object({
  kind: z.enum(['target', 'image']),
  /** Target id or image sha256. */
  id: z.string(),
  name: z.string(),
  version: z.string().nullable(),
  generatedAt: z.string(),
  counts: z.record(z.enum(CERTIFICATION_VERDICTS), z.number().int()),
  clauses: z.array(certificationClauseSchema),
  /** Third-party payloads' rules (VBSA), each payload by name and version. */
  payloads: z.array(certificationPayloadSchema).default([]),
});
export type Certification = z.infer<typeof certificationSchema>;

/** `GET /api/events`: `event: run` carries a RunView, `event: matrix` this. */
export const matrixEventSchema = z.object({
  id: z.string(),
  total: z.number().int(),
  done: z.number().int(),
  counts: z.object({
    PASS: z.number().int(),
    FAIL: z.number().int(),
    ERROR: z.number().int(),
    SKIP: z.number().int(),
  }),
  state: z.enum(['running', 'done']),
});
export type MatrixEvent = z.infer<typeof matrixEventSchema>;
