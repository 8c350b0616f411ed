import {
  agentViewSchema,
  certificationSchema,
  historySeriesSchema,
  imageResourceSchema,
  matrixEventSchema,
  matrixViewSchema,
  meSchema,
  regressionsSchema,
  runViewSchema,
  scheduleViewSchema,
  suiteInfoSchema,
  targetProfileSchema,
  tokenCreatedSchema,
  tokenViewSchema,
  trendPointSchema,
  type CertificationClause,
  type ImageResource,
  type MatrixView,
  type Role,
  type ScheduleCreate,
  type ScheduleView,
  type TokenView,
  type VerdictChange,
} from '@vmfarm/protocol';
import { z } from 'zod';

/**
 * Every response the dashboard reads, validated at the boundary with the controller's own schemas
 * (@vmfarm/protocol): a change of the API shows up as a type error here, or as a clear message in
 * the page, never as a silently empty table.
 */

export {
  certificationSchema,
  historySeriesSchema,
  matrixEventSchema,
  meSchema,
  regressionsSchema,
  runViewSchema,
  scheduleViewSchema,
  trendPointSchema,
};
export type {
  Certification,
  HistorySeries,
  MatrixEvent,
  Me,
  Regressions,
  Role,
  RunView,
  TrendPoint,
} from '@vmfarm/protocol';

export type Image = ImageResource;
export type Matrix = MatrixView;
export type Cell = Matrix['cells'][number];
export type Schedule = ScheduleView;
/** What the new-schedule form sends (the controller fills in the defaults: timezone UTC, enabled). */
export type ScheduleRequest = Omit<ScheduleCreate, 'timezone' | 'enabled'> &
  Partial<Pick<ScheduleCreate, 'timezone' | 'enabled'>>;
export type Token = TokenView;
export type Change = VerdictChange;
export type CertificationEntry = CertificationClause;
export type CertificationVerdict = CertificationClause['verdict'];

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

  images: () => get('/api/images', z.array(imageResourceSchema)),
  image: (sha256: string) => get(`/api/images/${enc(sha256)}`, imageResourceSchema),
  targets: () => get('/api/targets', z.array(targetProfileSchema)),
  suites: () => get('/api/suites', z.array(suiteInfoSchema)),
  agents: () => get('/api/agents', z.array(agentViewSchema)),

  matrices: (params: { limit?: number; schedule?: string } = {}) =>
    get(`/api/matrices${query(params)}`, z.array(matrixViewSchema)),
  matrix: (id: string) => get(`/api/matrices/${enc(id)}`, matrixViewSchema),
  run: (id: string) => get(`/api/runs/${enc(id)}`, runViewSchema),
  /** Artifacts are small text files (console transcripts, logs) shown in the page. */
  artifactText: async (runId: string, attempt: number, name: string) => {
    const res = await fetch(artifactUrl(runId, attempt, name), { credentials: 'same-origin' });
    if (!res.ok) throw new ApiError(res.status, `${name}: ${res.status} ${res.statusText}`);
    return res.text();
  },

  schedules: () => get('/api/schedules', z.array(scheduleViewSchema)),
  schedule: (id: string) => get(`/api/schedules/${enc(id)}`, scheduleViewSchema),
  createSchedule: (body: ScheduleRequest) => request('POST', '/api/schedules', scheduleViewSchema, body),
  runSchedule: (id: string) => request('POST', `/api/schedules/${enc(id)}/run`, matrixViewSchema, {}),
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

  tokens: () => get('/api/tokens', z.array(tokenViewSchema)),
  createToken: (body: { name: string; role: Role; tenant?: string }) =>
    request('POST', '/api/tokens', tokenCreatedSchema, body),
  revokeToken: (id: string) => request('DELETE', `/api/tokens/${enc(id)}`, null),
};

export function artifactUrl(runId: string, attempt: number, name: string): string {
  return `/api/runs/${enc(runId)}/attempts/${attempt}/artifacts/${enc(name)}`;
}

export function eventsUrl(matrixId?: string): string {
  return `/api/events${query({ matrix: matrixId })}`;
}
