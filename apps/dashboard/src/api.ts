import {
  agentViewSchema,
  imageResourceSchema,
  levelSchema,
  matrixViewSchema,
  runViewSchema,
  suiteInfoSchema,
  targetProfileSchema,
  verdictSchema,
} from '@vmfarm/protocol';
import { z } from 'zod';

/**
 * Every response the dashboard reads, validated at the boundary. Routes the controller has served
 * since issue 1 reuse @vmfarm/protocol's schemas; the rest follow the shapes of the issue 5 contract
 * (auth, schedules, history, regressions, certification, events).
 */

/** Image metadata (version, tags, owner) arrives with the schedules work; older controllers omit it. */
export const imageSchema = imageResourceSchema.extend({
  version: z.string().nullish(),
  tags: z.array(z.string()).default([]),
  owner: z.string().nullish(),
});
export type Image = z.infer<typeof imageSchema>;

export const matrixSchema = matrixViewSchema.extend({ scheduleId: z.string().nullish() });
export type Matrix = z.infer<typeof matrixSchema>;
export type Cell = Matrix['cells'][number];

export { runViewSchema };
export type { RunView } from '@vmfarm/protocol';

export const roleSchema = z.enum(['admin', 'vendor', 'viewer', 'agent']);
export type Role = z.infer<typeof roleSchema>;

export const meSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  tenant: z.string().nullable(),
});
export type Me = z.infer<typeof meSchema>;

export const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  tenant: z.string().nullable(),
  createdAt: z.string().nullish(),
  lastUsedAt: z.string().nullish(),
  revokedAt: z.string().nullish(),
});
export type Token = z.infer<typeof tokenSchema>;
export const createdTokenSchema = tokenSchema.extend({ token: z.string() });

export const imageSelectorSchema = z.union([
  z.object({ tags: z.array(z.string()) }),
  z.object({ sha256: z.array(z.string()) }),
]);
export type ImageSelector = z.infer<typeof imageSelectorSchema>;

export const scheduleSchema = z.object({
  id: z.string(),
  name: z.string(),
  cron: z.string(),
  timezone: z.string().nullish(),
  images: imageSelectorSchema.optional(),
  targets: z.array(z.string()).optional(),
  suites: z.array(z.string()).optional(),
  nextRunAt: z.string().nullish(),
  lastMatrixId: z.string().nullish(),
  owner: z.string().nullish(),
  enabled: z.boolean().default(true),
});
export type Schedule = z.infer<typeof scheduleSchema>;

export interface ScheduleRequest {
  name: string;
  cron: string;
  timezone?: string;
  images: ImageSelector;
  targets: string[];
  suites: string[];
}

const historyPointSchema = z.object({
  at: z.string(),
  matrixId: z.string(),
  runId: z.string(),
  imageSha256: z.string(),
  imageVersion: z.string().nullish(),
  verdict: verdictSchema,
});
export const historySeriesSchema = z.object({
  imageName: z.string(),
  targetId: z.string(),
  clause: z.string(),
  points: z.array(historyPointSchema),
  firstFailure: z.string().nullish(),
  lastPass: z.string().nullish(),
  fixedAt: z.string().nullish(),
});
export type HistorySeries = z.infer<typeof historySeriesSchema>;

export const trendPointSchema = z.object({
  at: z.string(),
  matrixId: z.string(),
  pass: z.number(),
  fail: z.number(),
  error: z.number(),
  skip: z.number(),
  passRate: z.number(),
});
export type TrendPoint = z.infer<typeof trendPointSchema>;

const changeSchema = z.object({
  imageName: z.string(),
  targetId: z.string(),
  clause: z.string(),
  before: verdictSchema.nullable(),
  after: verdictSchema.nullable(),
  runId: z.string().nullish(),
});
export type Change = z.infer<typeof changeSchema>;
const matrixRefSchema = z.object({ matrixId: z.string(), at: z.string() });
export const regressionsSchema = z.object({
  latest: matrixRefSchema.nullable(),
  previous: matrixRefSchema.nullable(),
  regressions: z.array(changeSchema),
  fixes: z.array(changeSchema),
});
export type Regressions = z.infer<typeof regressionsSchema>;

export const certificationVerdictSchema = z.union([verdictSchema, z.enum(['NOT-COVERED', 'NOT-RUN'])]);
export type CertificationVerdict = z.infer<typeof certificationVerdictSchema>;
export const certificationEntrySchema = z.object({
  clause: z.string(),
  subject: z.string(),
  level: levelSchema,
  requirement: z.string().nullish(),
  verdict: certificationVerdictSchema,
  message: z.string().nullish(),
  evidence: z.record(z.string(), z.unknown()).nullish(),
  runId: z.string().nullish(),
  at: z.string().nullish(),
});
export type CertificationEntry = z.infer<typeof certificationEntrySchema>;
/** The contract fixes the entries, not the envelope: a bare list or an object carrying `clauses`. */
export const certificationSchema = z.preprocess(
  (v) => (Array.isArray(v) ? { clauses: v } : v),
  z.object({ clauses: z.array(certificationEntrySchema) }),
);

/** `matrix` events of GET /api/events. */
export const matrixEventSchema = z.object({
  id: z.string(),
  total: z.number().int(),
  done: z.number().int(),
  counts: z.object({ PASS: z.number(), FAIL: z.number(), ERROR: z.number(), SKIP: z.number() }),
  state: z.enum(['running', 'done']),
});
export type MatrixEvent = z.infer<typeof matrixEventSchema>;

/** A refused or failed request: the status decides what the page shows (401: log in; 404: not found). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const apiErrorBody = z.object({ message: z.string() });

async function request<T extends z.ZodType>(
  method: string,
  path: string,
  schema: T | null,
  body?: unknown,
): Promise<z.infer<T>> {
  const res = await fetch(path, {
    method,
    // The session cookie (SameSite=Strict, HttpOnly) carries the credentials.
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const parsed = apiErrorBody.safeParse(await res.json().catch(() => null));
    throw new ApiError(res.status, parsed.success ? parsed.data.message : `${res.status} ${res.statusText}`);
  }
  if (schema === null || res.status === 204) return undefined as z.infer<T>;
  const parsed = schema.safeParse(await res.json());
  if (!parsed.success)
    throw new ApiError(res.status, `unexpected answer from ${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const get = <T extends z.ZodType>(path: string, schema: T) => request('GET', path, schema);
const enc = encodeURIComponent;
const query = (params: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};

export const api = {
  login: (token: string) => request('POST', '/api/session', null, { token }),
  logout: () => request('DELETE', '/api/session', null),
  me: () => get('/api/me', meSchema),

  images: () => get('/api/images', z.array(imageSchema)),
  image: (sha256: string) => get(`/api/images/${enc(sha256)}`, imageSchema),
  targets: () => get('/api/targets', z.array(targetProfileSchema)),
  suites: () => get('/api/suites', z.array(suiteInfoSchema)),
  agents: () => get('/api/agents', z.array(agentViewSchema)),

  matrices: (params: { limit?: number; schedule?: string } = {}) =>
    get(`/api/matrices${query(params)}`, z.array(matrixSchema)),
  matrix: (id: string) => get(`/api/matrices/${enc(id)}`, matrixSchema),
  run: (id: string) => get(`/api/runs/${enc(id)}`, runViewSchema),
  /** Artifacts are small text files (console transcripts, logs) shown in the page. */
  artifactText: async (runId: string, attempt: number, name: string) => {
    const res = await fetch(artifactUrl(runId, attempt, name), { credentials: 'same-origin' });
    if (!res.ok) throw new ApiError(res.status, `${name}: ${res.status} ${res.statusText}`);
    return res.text();
  },

  schedules: () => get('/api/schedules', z.array(scheduleSchema)),
  schedule: (id: string) => get(`/api/schedules/${enc(id)}`, scheduleSchema),
  createSchedule: (body: ScheduleRequest) => request('POST', '/api/schedules', scheduleSchema, body),
  runSchedule: (id: string) => request('POST', `/api/schedules/${enc(id)}/run`, matrixSchema, {}),
  scheduleRegressions: (id: string) => get(`/api/schedules/${enc(id)}/regressions`, regressionsSchema),
  matrixRegressions: (id: string, against: string) =>
    get(`/api/matrices/${enc(id)}/regressions${query({ against })}`, regressionsSchema),

  history: (params: { imageName?: string; targetId?: string; clause?: string }) =>
    get(`/api/history${query(params)}`, z.array(historySeriesSchema)),
  trend: (params: { scheduleId?: string; imageName?: string; targetId?: string }) =>
    get(`/api/history/trend${query(params)}`, z.array(trendPointSchema)),

  targetCertification: (id: string) => get(`/api/certification/targets/${enc(id)}`, certificationSchema),
  imageCertification: (sha256: string) =>
    get(`/api/certification/images/${enc(sha256)}`, certificationSchema),

  tokens: () => get('/api/tokens', z.array(tokenSchema)),
  createToken: (body: { name: string; role: Role; tenant?: string }) =>
    request('POST', '/api/tokens', createdTokenSchema, body),
  revokeToken: (id: string) => request('DELETE', `/api/tokens/${enc(id)}`, null),
};

export function artifactUrl(runId: string, attempt: number, name: string): string {
  return `/api/runs/${enc(runId)}/attempts/${attempt}/artifacts/${enc(name)}`;
}

export function eventsUrl(matrixId?: string): string {
  return `/api/events${query({ matrix: matrixId })}`;
}
