import { z } from 'zod';
import {
  agentRegisteredSchema,
  agentRegistrationSchema,
  agentViewSchema,
  artifactSchema,
  attemptAckSchema,
  attemptResultSchema,
  attemptStartedSchema,
  attemptStartSchema,
  farmConfigSchema,
  heartbeatAnswerSchema,
  historySeriesSchema,
  imagePatchSchema,
  imageResourceSchema,
  imageUploadQuerySchema,
  matrixCancelSchema,
  matrixRequestSchema,
  matrixSummarySchema,
  matrixViewSchema,
  runViewSchema,
  scheduleCreateSchema,
  scheduleFireSchema,
  schedulePatchSchema,
  scheduleViewSchema,
  sha256Schema,
  suiteInfoSchema,
  trendPointSchema,
} from './api';
import {
  meSchema,
  sessionCreateSchema,
  tokenCreatedSchema,
  tokenCreateSchema,
  tokenViewSchema,
  type Role,
} from './auth';
import { DEFAULT_PAGE_SIZE, type LimitName } from './limits';
import { payloadCreateSchema, payloadInfoSchema } from './payload';
import { matrixReportSchema } from './report';
import { targetCreateSchema, targetIdSchema, targetProfileSchema } from './target';
import {
  deletionSchema,
  deliveryViewSchema,
  diskUsageSchema,
  hookCreatedSchema,
  hookCreateSchema,
  hookViewSchema,
  janitorReportSchema,
  knownIssueCreateSchema,
  knownIssuePatchSchema,
  knownIssueViewSchema,
  matrixTriageSchema,
  policySetSchema,
  policyViewSchema,
  triagedCertificationSchema,
  triagedRegressionsSchema,
} from './triage';
import { tenantSchema } from './auth';

/**
 * The REST API as one table: every route's method, path, parameters, query, headers, body, answers,
 * the roles that may call it and the limits that bound it. The controller serves and validates
 * these routes, `/api/openapi.json` is generated from them, and `createClient` (client.ts) calls
 * them: a route added here shows up in all three.
 */

export type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';

/** A byte stream (an image, an artifact), the JUnit XML of a report, or a server-sent event stream. */
export type Payload = z.ZodType | 'binary' | 'sse' | null;

/** Who may call a route: anyone ('public'), or a token of one of these roles. */
export type Access = 'public' | readonly Role[];

export interface RouteSpec {
  method: Method;
  /** Express-style (`:id`); every path is under /api. */
  path: string;
  summary: string;
  auth: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request headers the route reads (lower-case names). */
  headers?: z.ZodObject;
  /** JSON (a schema), or the raw bytes of an upload ('binary', of these media types). */
  body?: z.ZodType | { binary: readonly string[] };
  /** Status → what the answer carries; errors without a schema carry an ApiError. */
  responses: Readonly<Record<number, Payload>>;
  /** Limits that bound this route (see limits.ts): its body, its page size. */
  limits?: {
    body?: Extract<LimitName, 'jsonBodyBytes' | 'resultBodyBytes' | 'imageBytes'>;
    /** `query.limit` is a page size (at most `pageSize`). */
    page?: true;
  };
  /** An answer other than JSON the route also gives, chosen by the query (a report as JUnit XML). */
  alternate?: { mediaType: string; when: string };
}

/** Keeps each route's literal types (the client and the controller derive theirs from them). */
const route = <const R extends RouteSpec>(r: R): R => r;

/* Role groups. */
export const READERS = ['admin', 'vendor', 'viewer'] as const satisfies readonly Role[];
export const WRITERS = ['admin', 'vendor'] as const satisfies readonly Role[];
/** Routes agents call; admins too, so that an operator can act for a broken agent. */
export const AGENTS = ['admin', 'agent'] as const satisfies readonly Role[];
export const ADMINS = ['admin'] as const satisfies readonly Role[];
export const EVERYONE = ['admin', 'vendor', 'viewer', 'agent'] as const satisfies readonly Role[];

/* Parameters and queries. */
const id = z.string().min(1).max(64);
export const idParams = z.object({ id });
export const shaParams = z.object({ sha256: sha256Schema });
export const targetParams = z.object({ id: targetIdSchema });
export const attemptParams = z.object({ id, n: z.coerce.number().int().min(1).max(1000) });
export const artifactParams = z.object({
  id,
  attempt: attemptParams.shape.n,
  name: artifactSchema.shape.name,
});
/** A page of a list: at most `limit` items (VMFARM_MAX_PAGE_SIZE) after skipping `offset`. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).default(DEFAULT_PAGE_SIZE),
  offset: z.coerce.number().int().min(0).default(0),
});
export const reportQuery = z.object({
  format: z.enum(['json', 'junit']).default('json'),
  /** A page of the cells (the summary counts them all); without them, every cell. */
  offset: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).optional(),
});
export const matricesQuery = pageQuery.extend({ schedule: id.optional() });
const clause = z.string().min(1).max(64);
export const historyQuery = z.object({
  imageName: z.string().min(1).max(200).optional(),
  targetId: targetIdSchema.optional(),
  clause: clause.optional(),
  /** How many of the newest matching matrices. */
  limit: pageQuery.shape.limit,
});
export const trendQuery = z.object({
  scheduleId: id.optional(),
  imageName: historyQuery.shape.imageName,
  targetId: historyQuery.shape.targetId,
  limit: pageQuery.shape.limit,
});
export const againstQuery = z.object({ against: id.optional() });
/** `?all=true`: closed known issues too. */
export const knownIssuesQuery = pageQuery.extend({
  all: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .default(false),
});
export const tenantParams = z.object({ tenant: tenantSchema });
export const janitorRunSchema = z.object({ dryRun: z.boolean().default(false) }).strict();
export const eventsQuery = z.object({ matrix: id.optional() });
/** A retried submit with the same key answers the matrix the first one made (printable ASCII). */
export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, '1 to 200 printable characters without spaces')
    .optional(),
});

/** `database` and `redis` are 'ok' or what went wrong; either not ok makes the answer a 503. */
export const healthSchema = z.object({
  ok: z.boolean(),
  database: z.string(),
  redis: z.string(),
  version: z.string(),
});
export type Health = z.infer<typeof healthSchema>;

/** Content types `PUT /api/images` accepts; the container (gzip, xz) is detected from the bytes. */
export const IMAGE_MEDIA_TYPES = [
  'application/octet-stream',
  'application/gzip',
  'application/x-gzip',
  'application/x-xz',
  'application/x-qemu-disk',
  'application/x-raw-disk-image',
] as const;

const list = <T extends z.ZodType>(item: T) => z.array(item);

export const API = {
  uploadImage: route({
    method: 'put',
    path: '/api/images',
    summary:
      'Upload a disk image (raw or qcow2, optionally gzip or xz); content-addressed by sha256. 200: already stored',
    auth: WRITERS,
    query: imageUploadQuerySchema,
    body: { binary: IMAGE_MEDIA_TYPES },
    responses: { 200: imageResourceSchema, 201: imageResourceSchema, 400: null, 413: null, 415: null },
    limits: { body: 'imageBytes' },
  }),
  listImages: route({
    method: 'get',
    path: '/api/images',
    summary: 'Images, newest first',
    auth: READERS,
    query: pageQuery,
    responses: { 200: list(imageResourceSchema), 400: null },
    limits: { page: true },
  }),
  getImage: route({
    method: 'get',
    path: '/api/images/:sha256',
    summary: 'One image',
    auth: READERS,
    params: shaParams,
    responses: { 200: imageResourceSchema, 404: null },
  }),
  patchImage: route({
    method: 'patch',
    path: '/api/images/:sha256',
    summary: 'Set the name, version or tags of an image (tags replace the whole set)',
    auth: WRITERS,
    params: shaParams,
    body: imagePatchSchema,
    responses: { 200: imageResourceSchema, 400: null, 404: null },
  }),
  getImageContent: route({
    method: 'get',
    path: '/api/images/:sha256/content',
    summary: 'The image bytes (decompressed), streamed',
    // Agents download what they run; readers what they may see.
    auth: [...READERS, 'agent'],
    params: shaParams,
    responses: { 200: 'binary', 404: null },
  }),
  listTargets: route({
    method: 'get',
    path: '/api/targets',
    summary: 'Target profiles: the bundled ones, then user profiles',
    auth: READERS,
    query: pageQuery,
    responses: { 200: list(targetProfileSchema), 400: null },
    limits: { page: true },
  }),
  createTarget: route({
    method: 'post',
    path: '/api/targets',
    summary:
      'Create a target profile, optionally extending a base profile; a host path in it is an admin’s to name (403)',
    auth: WRITERS,
    body: targetCreateSchema,
    responses: { 201: targetProfileSchema, 400: null, 403: null, 409: null },
  }),
  getTarget: route({
    method: 'get',
    path: '/api/targets/:id',
    summary: 'One target profile',
    auth: READERS,
    params: targetParams,
    responses: { 200: targetProfileSchema, 404: null },
  }),
  createPayload: route({
    method: 'post',
    path: '/api/payloads',
    summary:
      'Add a third-party payload (e.g. Arm VBSA): manifest and files; the farm builds its boot disk (stored as an image) and runs it as the suite named after it. 200: already there',
    auth: WRITERS,
    body: payloadCreateSchema,
    responses: { 200: payloadInfoSchema, 201: payloadInfoSchema, 400: null, 413: null },
    limits: { body: 'resultBodyBytes' },
  }),
  listPayloads: route({
    method: 'get',
    path: '/api/payloads',
    summary: 'Payloads the caller may see, newest first',
    auth: READERS,
    query: pageQuery,
    responses: { 200: list(payloadInfoSchema), 400: null },
    limits: { page: true },
  }),
  getPayload: route({
    method: 'get',
    path: '/api/payloads/:id',
    summary: 'One payload',
    auth: READERS,
    params: idParams,
    responses: { 200: payloadInfoSchema, 404: null },
  }),
  listSuites: route({
    method: 'get',
    path: '/api/suites',
    summary: 'The suite registry',
    auth: READERS,
    responses: { 200: list(suiteInfoSchema) },
  }),
  createMatrix: route({
    method: 'post',
    path: '/api/matrices',
    summary:
      'Submit images × targets × suites: validated whole, written with its runs in one transaction, then queued. ' +
      'With an Idempotency-Key, a repeat answers the first matrix (200); 503 when Redis does not answer (nothing written)',
    auth: WRITERS,
    headers: idempotencyHeaders,
    body: matrixRequestSchema,
    responses: { 200: matrixViewSchema, 201: matrixViewSchema, 400: null, 422: null, 429: null, 503: null },
  }),
  listMatrices: route({
    method: 'get',
    path: '/api/matrices',
    summary: 'Matrices, newest first, as summaries (?schedule=ID: that schedule only)',
    auth: READERS,
    query: matricesQuery,
    responses: { 200: list(matrixSummarySchema), 400: null },
    limits: { page: true },
  }),
  getMatrix: route({
    method: 'get',
    path: '/api/matrices/:id',
    summary: 'A matrix: state, progress, cells',
    auth: READERS,
    params: idParams,
    responses: { 200: matrixViewSchema, 404: null },
  }),
  cancelMatrix: route({
    method: 'post',
    path: '/api/matrices/:id/cancel',
    summary:
      'Cancel a matrix: queued runs leave the queue and running ones are stopped by their agent, each recorded SKIP with the reason',
    auth: WRITERS,
    params: idParams,
    body: matrixCancelSchema,
    responses: { 200: matrixViewSchema, 400: null, 403: null, 404: null, 503: null },
  }),
  getMatrixReport: route({
    method: 'get',
    path: '/api/matrices/:id/report',
    summary: 'The matrix report as JSON or JUnit XML; ?offset=&limit= for a page of its cells',
    auth: READERS,
    params: idParams,
    query: reportQuery,
    responses: { 200: matrixReportSchema, 400: null, 404: null },
    alternate: { mediaType: 'application/xml', when: 'format=junit' },
  }),
  getMatrixRegressions: route({
    method: 'get',
    path: '/api/matrices/:id/regressions',
    summary:
      "PASS → FAIL and FAIL → PASS against another matrix (default: its schedule's previous finished one)",
    auth: READERS,
    params: idParams,
    query: againstQuery,
    responses: { 200: triagedRegressionsSchema, 400: null, 404: null },
  }),
  createSchedule: route({
    method: 'post',
    path: '/api/schedules',
    summary: 'Create a schedule: a matrix submitted whenever its cron pattern fires',
    auth: WRITERS,
    body: scheduleCreateSchema,
    responses: { 201: scheduleViewSchema, 400: null, 503: null },
  }),
  listSchedules: route({
    method: 'get',
    path: '/api/schedules',
    summary: 'Schedules',
    auth: READERS,
    query: pageQuery,
    responses: { 200: list(scheduleViewSchema), 400: null },
    limits: { page: true },
  }),
  getSchedule: route({
    method: 'get',
    path: '/api/schedules/:id',
    summary: 'One schedule',
    auth: READERS,
    params: idParams,
    responses: { 200: scheduleViewSchema, 404: null },
  }),
  patchSchedule: route({
    method: 'patch',
    path: '/api/schedules/:id',
    summary: 'Change a schedule (enabled: false stops its fires)',
    auth: WRITERS,
    params: idParams,
    body: schedulePatchSchema,
    responses: { 200: scheduleViewSchema, 400: null, 404: null },
  }),
  deleteSchedule: route({
    method: 'delete',
    path: '/api/schedules/:id',
    summary: 'Delete a schedule (its matrices stay)',
    auth: WRITERS,
    params: idParams,
    responses: { 204: null, 404: null },
  }),
  runSchedule: route({
    method: 'post',
    path: '/api/schedules/:id/run',
    summary: 'Fire a schedule now; 409 while its previous matrix still runs',
    auth: WRITERS,
    params: idParams,
    responses: { 201: matrixViewSchema, 400: null, 404: null, 409: null },
  }),
  listScheduleFires: route({
    method: 'get',
    path: '/api/schedules/:id/fires',
    summary: 'Fires of a schedule, newest first: started, skipped (previous matrix still running) or failed',
    auth: READERS,
    params: idParams,
    query: pageQuery,
    responses: { 200: list(scheduleFireSchema), 400: null, 404: null },
    limits: { page: true },
  }),
  getScheduleRegressions: route({
    method: 'get',
    path: '/api/schedules/:id/regressions',
    summary:
      "The schedule's latest finished matrix against the finished one before it: regressions, fixes, known, errors, flaky",
    auth: READERS,
    params: idParams,
    responses: { 200: triagedRegressionsSchema, 404: null },
  }),
  listHistory: route({
    method: 'get',
    path: '/api/history',
    summary: 'Verdicts over time per image name × target × clause, with first failure, last pass, fix',
    auth: READERS,
    query: historyQuery,
    responses: { 200: list(historySeriesSchema), 400: null },
    limits: { page: true },
  }),
  getTrend: route({
    method: 'get',
    path: '/api/history/trend',
    summary: 'Clause verdicts counted per matrix, with the pass rate',
    auth: READERS,
    query: trendQuery,
    responses: { 200: list(trendPointSchema), 400: null },
    limits: { page: true },
  }),
  getTargetCertification: route({
    method: 'get',
    path: '/api/certification/targets/:id',
    summary: 'Every clause with the latest verdict on this target, or NOT-COVERED / NOT-RUN',
    auth: READERS,
    params: targetParams,
    responses: { 200: triagedCertificationSchema, 404: null },
  }),
  getImageCertification: route({
    method: 'get',
    path: '/api/certification/images/:sha256',
    summary: 'Every clause with the latest verdict for this image, or NOT-COVERED / NOT-RUN',
    auth: READERS,
    params: shaParams,
    responses: { 200: triagedCertificationSchema, 404: null },
  }),
  streamEvents: route({
    method: 'get',
    path: '/api/events',
    summary:
      'Server-sent events: `run` (a RunView) and `matrix` (progress) of matrices the caller may see; a comment every 15 s',
    auth: READERS,
    query: eventsQuery,
    responses: { 200: 'sse', 400: null, 404: null, 503: null },
  }),
  getRun: route({
    method: 'get',
    path: '/api/runs/:id',
    summary: 'A run: state, attempts, verdicts, artifacts',
    auth: READERS,
    params: idParams,
    responses: { 200: runViewSchema, 404: null },
  }),
  getArtifact: route({
    method: 'get',
    path: '/api/runs/:id/attempts/:attempt/artifacts/:name',
    summary: 'One artifact of an attempt, streamed with its media type as an attachment',
    auth: READERS,
    params: artifactParams,
    responses: { 200: 'binary', 400: null, 404: null },
  }),
  registerAgent: route({
    method: 'post',
    path: '/api/agents',
    summary: 'Register an agent (it belongs to the token that registers it)',
    auth: AGENTS,
    body: agentRegistrationSchema,
    responses: { 201: agentRegisteredSchema, 400: null },
  }),
  listAgents: route({
    method: 'get',
    path: '/api/agents',
    summary: 'Agents and their status',
    // Agents read it too: a host that cannot run a job checks whether another agent could.
    auth: [...READERS, 'agent'],
    query: pageQuery,
    responses: { 200: list(agentViewSchema), 400: null },
    limits: { page: true },
  }),
  heartbeat: route({
    method: 'post',
    path: '/api/agents/:id/heartbeat',
    summary: 'Agent heartbeat; the answer lists the runs it holds that were cancelled',
    auth: AGENTS,
    params: idParams,
    responses: { 200: heartbeatAnswerSchema, 403: null, 404: null },
  }),
  startAttempt: route({
    method: 'post',
    path: '/api/runs/:id/attempts/:n/start',
    summary: "An agent (of the caller's token) starts attempt n of a run",
    auth: AGENTS,
    params: attemptParams,
    body: attemptStartSchema,
    responses: { 200: attemptStartedSchema, 400: null, 403: null, 404: null, 409: null },
  }),
  postAttemptResult: route({
    method: 'post',
    path: '/api/runs/:id/attempts/:n/result',
    summary:
      'The agent holding started attempt n reports it; another agent, or an attempt not started or already finished, is refused (403, 409)',
    auth: AGENTS,
    params: attemptParams,
    body: attemptResultSchema,
    responses: { 200: attemptAckSchema, 400: null, 403: null, 404: null, 409: null, 413: null },
    limits: { body: 'resultBodyBytes' },
  }),
  getConfig: route({
    method: 'get',
    path: '/api/config',
    summary: 'Where agents find the queues (the Redis URL may carry a password: agents and admins only)',
    auth: AGENTS,
    responses: { 200: farmConfigSchema },
  }),
  health: route({
    method: 'get',
    path: '/api/health',
    summary: 'Liveness: the database and Redis each answer (503 naming the one that does not)',
    auth: 'public',
    responses: { 200: healthSchema, 503: healthSchema },
  }),
  openapi: route({
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    auth: 'public',
    responses: { 200: z.record(z.string(), z.unknown()) },
  }),
  login: route({
    method: 'post',
    path: '/api/session',
    summary:
      'Log in: sets the vmfarm_session cookie (HttpOnly, SameSite=Strict) to a new session id that expires (VMFARM_SESSION_SECONDS)',
    auth: 'public',
    body: sessionCreateSchema,
    responses: { 204: null, 400: null, 401: null },
  }),
  logout: route({
    method: 'delete',
    path: '/api/session',
    summary: 'Log out: revokes the session of the vmfarm_session cookie and clears it',
    auth: 'public',
    responses: { 204: null },
  }),
  me: route({
    method: 'get',
    path: '/api/me',
    summary: "The caller's token: name, role, tenant",
    auth: EVERYONE,
    responses: { 200: meSchema },
  }),
  createToken: route({
    method: 'post',
    path: '/api/tokens',
    summary: 'Create a token (admin); the answer is the only time the token is shown',
    auth: ADMINS,
    body: tokenCreateSchema,
    responses: { 201: tokenCreatedSchema, 400: null },
  }),
  listTokens: route({
    method: 'get',
    path: '/api/tokens',
    summary: 'Tokens, without secrets (admin)',
    auth: ADMINS,
    query: pageQuery,
    responses: { 200: list(tokenViewSchema), 400: null },
    limits: { page: true },
  }),
  revokeToken: route({
    method: 'delete',
    path: '/api/tokens/:id',
    summary: 'Revoke a token (admin), and the sessions opened with it',
    auth: ADMINS,
    params: idParams,
    responses: { 204: null, 404: null },
  }),
  /* Triage: known issues, retry before regression, notifications, retention, export. */
  listKnownIssues: route({
    method: 'get',
    path: '/api/known-issues',
    summary:
      'Known issues (waivers) the caller may see, oldest first, with state and whether possibly fixed; ?all=true: closed ones too',
    auth: READERS,
    query: knownIssuesQuery,
    responses: { 200: list(knownIssueViewSchema), 400: null },
    limits: { page: true },
  }),
  createKnownIssue: route({
    method: 'post',
    path: '/api/known-issues',
    summary:
      "Add a known issue: FAILs it matches stay FAIL, named as known, and are no regression (a vendor's explains its tenant's matrices)",
    auth: WRITERS,
    body: knownIssueCreateSchema,
    responses: { 201: knownIssueViewSchema, 400: null },
  }),
  getKnownIssue: route({
    method: 'get',
    path: '/api/known-issues/:id',
    summary: 'One known issue',
    auth: READERS,
    params: idParams,
    responses: { 200: knownIssueViewSchema, 404: null },
  }),
  patchKnownIssue: route({
    method: 'patch',
    path: '/api/known-issues/:id',
    summary: 'Change a known issue (its version goes up); expiresAt null: never expires',
    auth: WRITERS,
    params: idParams,
    body: knownIssuePatchSchema,
    responses: { 200: knownIssueViewSchema, 400: null, 403: null, 404: null, 409: null },
  }),
  closeKnownIssue: route({
    method: 'post',
    path: '/api/known-issues/:id/close',
    summary: 'Close a known issue: it explains nothing any more',
    auth: WRITERS,
    params: idParams,
    responses: { 200: knownIssueViewSchema, 403: null, 404: null },
  }),
  getMatrixTriage: route({
    method: 'get',
    path: '/api/matrices/:id/triage',
    summary:
      'Per run of a matrix: retries (retry before regression), flaky, FAILs known issues explain; and how the matrix was settled',
    auth: READERS,
    params: idParams,
    responses: { 200: matrixTriageSchema, 404: null },
  }),
  getMatrixKcidb: route({
    method: 'get',
    path: '/api/matrices/:id/kcidb',
    summary:
      'The matrix as KCIDB v5 report data: images as checkouts, image × target as builds, clause verdicts as tests, known issues as issues and incidents',
    auth: READERS,
    params: idParams,
    responses: { 200: z.record(z.string(), z.unknown()), 404: null },
  }),
  listPolicies: route({
    method: 'get',
    path: '/api/policies',
    summary: 'Retry and retention policies of the farm, of tenants and of schedules (the most specific wins)',
    auth: READERS,
    responses: { 200: list(policyViewSchema) },
  }),
  putFarmPolicy: route({
    method: 'put',
    path: '/api/policies/farm',
    summary: "Set the farm's policy (admin): retries, keepDays, keepMatrices; null inherits the default",
    auth: ADMINS,
    body: policySetSchema,
    responses: { 200: policyViewSchema, 400: null },
  }),
  deleteFarmPolicy: route({
    method: 'delete',
    path: '/api/policies/farm',
    summary: "Remove the farm's policy",
    auth: ADMINS,
    responses: { 204: null, 404: null },
  }),
  putTenantPolicy: route({
    method: 'put',
    path: '/api/policies/tenants/:tenant',
    summary: "Set a tenant's policy (its vendors or an admin)",
    auth: WRITERS,
    params: tenantParams,
    body: policySetSchema,
    responses: { 200: policyViewSchema, 400: null, 403: null },
  }),
  deleteTenantPolicy: route({
    method: 'delete',
    path: '/api/policies/tenants/:tenant',
    summary: "Remove a tenant's policy",
    auth: WRITERS,
    params: tenantParams,
    responses: { 204: null, 403: null, 404: null },
  }),
  putSchedulePolicy: route({
    method: 'put',
    path: '/api/policies/schedules/:id',
    summary: "Set a schedule's policy (whoever may change the schedule)",
    auth: WRITERS,
    params: idParams,
    body: policySetSchema,
    responses: { 200: policyViewSchema, 400: null, 403: null, 404: null },
  }),
  deleteSchedulePolicy: route({
    method: 'delete',
    path: '/api/policies/schedules/:id',
    summary: "Remove a schedule's policy",
    auth: WRITERS,
    params: idParams,
    responses: { 204: null, 403: null, 404: null },
  }),
  listHooks: route({
    method: 'get',
    path: '/api/hooks',
    summary: "Webhooks and e-mail hooks (a vendor sees its tenant's), without secrets",
    auth: READERS,
    responses: { 200: list(hookViewSchema) },
  }),
  createHook: route({
    method: 'post',
    path: '/api/hooks',
    summary:
      'Add a webhook (JSON body, X-Vmfarm-Signature: sha256=HMAC of the body) or e-mail hook for a schedule, a tenant or the farm; the secret is shown this once',
    auth: WRITERS,
    body: hookCreateSchema,
    responses: { 201: hookCreatedSchema, 400: null, 403: null, 404: null },
  }),
  deleteHook: route({
    method: 'delete',
    path: '/api/hooks/:id',
    summary: 'Delete a hook and its delivery log',
    auth: WRITERS,
    params: idParams,
    responses: { 204: null, 403: null, 404: null },
  }),
  listDeliveries: route({
    method: 'get',
    path: '/api/hooks/:id/deliveries',
    summary: "A hook's delivery log, newest first: state, attempts, each attempt's answer",
    auth: READERS,
    params: idParams,
    query: pageQuery,
    responses: { 200: list(deliveryViewSchema), 400: null, 404: null },
    limits: { page: true },
  }),
  runJanitor: route({
    method: 'post',
    path: '/api/janitor/run',
    summary:
      'Remove artifacts and image bytes past their retention policy now (dryRun: only say what would go); never those of a run under a known issue or of the latest certification',
    auth: ADMINS,
    body: janitorRunSchema,
    responses: { 200: janitorReportSchema, 400: null },
  }),
  listDeletions: route({
    method: 'get',
    path: '/api/janitor/deletions',
    summary: 'What the janitor removed, newest first, with the rule that let it go',
    auth: ['admin', 'viewer'],
    query: pageQuery,
    responses: { 200: list(deletionSchema), 400: null },
    limits: { page: true },
  }),
  getDiskUsage: route({
    method: 'get',
    path: '/api/disk',
    summary: 'Disk usage: image bytes, artifacts per schedule, the data directory’s file system',
    auth: ['admin', 'viewer'],
    responses: { 200: diskUsageSchema },
  }),
} as const;

export type RouteTable = Readonly<Record<string, RouteSpec>>;
