import {
  API,
  buildRequest,
  createClient,
  type TriagedCertificationClause,
  type ImageResource,
  type MatrixSummary,
  type MatrixView,
  type ScheduleCreate,
  type ScheduleView,
  type TokenView,
  type VerdictChange,
} from '@vmfarm/protocol';

/**
 * The controller's REST API: the typed client of the route table (@vmfarm/protocol), every answer
 * validated against the controller's own schemas. A change of the API shows up as a type error
 * here, or as a clear message in the page, never as a silently empty table. The session cookie
 * (HttpOnly, SameSite=Strict) carries the credentials.
 */
export const api = createClient(API, { credentials: 'same-origin' });

/** A refused or failed call: the status decides what the page shows (401: log in; 404: not found). */
export { ApiRequestError as ApiError } from '@vmfarm/protocol';

export { matrixEventSchema, runViewSchema } from '@vmfarm/protocol';
export type {
  HistorySeries,
  MatrixEvent,
  Me,
  Role,
  RunView,
  TrendPoint,
  TriagedCertification as Certification,
  TriagedRegressions as Regressions,
} from '@vmfarm/protocol';

export type Image = ImageResource;
export type Matrix = MatrixView;
export type MatrixEntry = MatrixSummary;
export type Cell = Matrix['cells'][number];
export type Schedule = ScheduleView;
/** What the new-schedule form sends (the controller fills in the defaults: timezone UTC, enabled). */
export type ScheduleRequest = Omit<ScheduleCreate, 'timezone' | 'enabled'> &
  Partial<Pick<ScheduleCreate, 'timezone' | 'enabled'>>;
export type Token = TokenView;
export type Change = VerdictChange;
export type CertificationEntry = TriagedCertificationClause;
export type CertificationVerdict = TriagedCertificationClause['verdict'];

/** The most the controller gives in one page by default (VMFARM_MAX_PAGE_SIZE). */
export const PAGE = 500;

/** Images that name what pages show by hash (the newest page of them). */
export const fetchImages = () => api.listImages({ query: { limit: PAGE } });

/** Artifacts are small text files (console transcripts, logs) shown in the page. */
export async function artifactText(runId: string, attempt: number, name: string): Promise<string> {
  return (await api.raw.getArtifact({ params: { id: runId, attempt, name } })).text();
}

export function artifactUrl(runId: string, attempt: number, name: string): string {
  return buildRequest(API.getArtifact, { params: { id: runId, attempt, name } }).url;
}

export function eventsUrl(matrixId?: string): string {
  return buildRequest(API.streamEvents, { query: { matrix: matrixId } }).url;
}
