import { z } from 'zod';
import { targetIdSchema, targetKindSchema } from './target';
import { archSchema, imageFormatSchema, verdictRecordSchema } from './verdict';

/** REST contract between the controller, the CLI and agents. All routes live under /api. */

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

export const imageResourceSchema = z.object({
  sha256: sha256Schema,
  size: z.number().int(),
  format: imageFormatSchema,
  arch: archSchema.nullable(),
  name: z.string(),
  uploadedAs: z.enum(['raw', 'gz', 'xz']),
  createdAt: z.string(),
});
export type ImageResource = z.infer<typeof imageResourceSchema>;

/** Query of `PUT /api/images` (body: the image bytes, optionally gzip or xz compressed). */
export const imageUploadQuerySchema = z.object({
  name: z.string().max(200).optional(),
  arch: archSchema.optional(),
});

export const suiteInfoSchema = z.object({
  id: z.string(),
  title: z.string(),
  subject: z.enum(['image', 'vm', 'guest']),
  clauses: z.array(z.string()),
  targetKinds: z.array(targetKindSchema),
});
export type SuiteInfo = z.infer<typeof suiteInfoSchema>;

export const matrixRequestSchema = z.object({
  images: z.array(sha256Schema).min(1).max(1000),
  targets: z.array(targetIdSchema).min(1).max(100),
  /** Suite ids, or ['all'] for every suite that can run on each target. */
  suites: z.array(z.string().min(1)).min(1).max(100),
  /** Live suites: a regular expression the guest prints when it is up (tried with the defaults). */
  ready: z
    .string()
    .min(1)
    .max(500)
    .refine(
      (v) => {
        try {
          new RegExp(v, 'm');
          return true;
        } catch {
          return false;
        }
      },
      { error: 'must be a valid regular expression' },
    )
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
  name: z.string().min(1).max(200),
  host: z.string().min(1).max(200),
  version: z.string().max(50),
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

export const matrixViewSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  state: z.enum(['running', 'done']),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
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
    }),
  ),
});
export type MatrixView = z.infer<typeof matrixViewSchema>;
