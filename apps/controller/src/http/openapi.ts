import {
  agentRegisteredSchema,
  agentRegistrationSchema,
  agentViewSchema,
  apiErrorSchema,
  attemptAckSchema,
  attemptResultSchema,
  attemptStartedSchema,
  attemptStartSchema,
  farmConfigSchema,
  certificationSchema,
  historySeriesSchema,
  imagePatchSchema,
  imageResourceSchema,
  imageUploadQuerySchema,
  regressionsSchema,
  scheduleCreateSchema,
  scheduleFireSchema,
  schedulePatchSchema,
  scheduleViewSchema,
  trendPointSchema,
  matrixReportSchema,
  matrixRequestSchema,
  matrixViewSchema,
  meSchema,
  runViewSchema,
  SESSION_COOKIE,
  sessionCreateSchema,
  suiteInfoSchema,
  targetCreateSchema,
  targetProfileSchema,
  tokenCreatedSchema,
  tokenCreateSchema,
  tokenViewSchema,
} from '@vmfarm/protocol';
import { z } from 'zod';
import {
  artifactParams,
  attemptParams,
  healthSchema,
  idParams,
  againstQuery,
  eventsQuery,
  historyQuery,
  listQuery,
  matricesQuery,
  okSchema,
  trendQuery,
  reportQuery,
  shaParams,
  targetParams,
  IMAGE_MEDIA_TYPES,
} from './schemas';

type Body = z.ZodType | 'binary';

export interface Route {
  method: 'get' | 'put' | 'post' | 'patch' | 'delete';
  /** Express-style path (`:id`), as the controllers declare it. */
  path: string;
  summary: string;
  /** No token needed (`@Public()`); every other route needs one (`@Allow(roles)`). */
  public?: true;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: Body;
  /** Status code → schema ('binary' for a byte stream, 'xml' for JUnit, 'sse' for an event stream). */
  responses: Record<number, z.ZodType | 'binary' | 'xml' | 'sse' | null>;
}

const array = <T extends z.ZodType>(s: T) => z.array(s);

/** Every route of the API; test/openapi.test.ts checks it equals the routes Nest serves. */
export const ROUTES: Route[] = [
  {
    method: 'put',
    path: '/api/images',
    summary: 'Upload a disk image (raw or qcow2, optionally gzip or xz); content-addressed by sha256',
    query: imageUploadQuerySchema,
    body: 'binary',
    responses: { 200: imageResourceSchema, 201: imageResourceSchema, 400: null, 413: null, 415: null },
  },
  {
    method: 'get',
    path: '/api/images',
    summary: 'List images',
    responses: { 200: array(imageResourceSchema) },
  },
  {
    method: 'get',
    path: '/api/images/:sha256',
    summary: 'One image',
    params: shaParams,
    responses: { 200: imageResourceSchema, 404: null },
  },
  {
    method: 'patch',
    path: '/api/images/:sha256',
    summary: 'Set the name, version or tags of an image (tags replace the whole set)',
    params: shaParams,
    body: imagePatchSchema,
    responses: { 200: imageResourceSchema, 400: null, 404: null },
  },
  {
    method: 'get',
    path: '/api/images/:sha256/content',
    summary: 'The image bytes (decompressed), streamed',
    params: shaParams,
    responses: { 200: 'binary', 404: null },
  },
  {
    method: 'get',
    path: '/api/targets',
    summary: 'Target profiles',
    responses: { 200: array(targetProfileSchema) },
  },
  {
    method: 'post',
    path: '/api/targets',
    summary: 'Create a target profile, optionally extending a base profile',
    body: targetCreateSchema,
    responses: { 201: targetProfileSchema, 400: null, 409: null },
  },
  {
    method: 'get',
    path: '/api/targets/:id',
    summary: 'One target profile',
    params: targetParams,
    responses: { 200: targetProfileSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/suites',
    summary: 'The suite registry',
    responses: { 200: array(suiteInfoSchema) },
  },
  {
    method: 'post',
    path: '/api/matrices',
    summary: 'Submit images × targets × suites; validated whole, then queued',
    body: matrixRequestSchema,
    responses: { 201: matrixViewSchema, 400: null },
  },
  {
    method: 'get',
    path: '/api/matrices',
    summary: 'Recent matrices, newest first (?schedule=ID: that schedule only)',
    query: matricesQuery,
    responses: { 200: array(matrixViewSchema) },
  },
  {
    method: 'get',
    path: '/api/matrices/:id',
    summary: 'A matrix: state, progress, cells',
    params: idParams,
    responses: { 200: matrixViewSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/matrices/:id/report',
    summary: 'The matrix report as JSON or JUnit XML',
    params: idParams,
    query: reportQuery,
    responses: { 200: matrixReportSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/matrices/:id/regressions',
    summary:
      "PASS → FAIL and FAIL → PASS against another matrix (default: its schedule's previous finished one)",
    params: idParams,
    query: againstQuery,
    responses: { 200: regressionsSchema, 400: null, 404: null },
  },
  {
    method: 'post',
    path: '/api/schedules',
    summary: 'Create a schedule: a matrix submitted whenever its cron pattern fires',
    body: scheduleCreateSchema,
    responses: { 201: scheduleViewSchema, 400: null },
  },
  {
    method: 'get',
    path: '/api/schedules',
    summary: 'Schedules',
    responses: { 200: array(scheduleViewSchema) },
  },
  {
    method: 'get',
    path: '/api/schedules/:id',
    summary: 'One schedule',
    params: idParams,
    responses: { 200: scheduleViewSchema, 404: null },
  },
  {
    method: 'patch',
    path: '/api/schedules/:id',
    summary: 'Change a schedule (enabled: false stops its fires)',
    params: idParams,
    body: schedulePatchSchema,
    responses: { 200: scheduleViewSchema, 400: null, 404: null },
  },
  {
    method: 'delete',
    path: '/api/schedules/:id',
    summary: 'Delete a schedule (its matrices stay)',
    params: idParams,
    responses: { 204: null, 404: null },
  },
  {
    method: 'post',
    path: '/api/schedules/:id/run',
    summary: 'Fire a schedule now; 409 while its previous matrix still runs',
    params: idParams,
    responses: { 201: matrixViewSchema, 400: null, 404: null, 409: null },
  },
  {
    method: 'get',
    path: '/api/schedules/:id/fires',
    summary: 'Fires of a schedule, newest first: started, skipped (previous matrix still running) or failed',
    params: idParams,
    query: listQuery,
    responses: { 200: array(scheduleFireSchema), 404: null },
  },
  {
    method: 'get',
    path: '/api/schedules/:id/regressions',
    summary: "The schedule's latest finished matrix against the finished one before it",
    params: idParams,
    responses: { 200: regressionsSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/history',
    summary: 'Verdicts over time per image name × target × clause, with first failure, last pass, fix',
    query: historyQuery,
    responses: { 200: array(historySeriesSchema) },
  },
  {
    method: 'get',
    path: '/api/history/trend',
    summary: 'Clause verdicts counted per matrix, with the pass rate',
    query: trendQuery,
    responses: { 200: array(trendPointSchema) },
  },
  {
    method: 'get',
    path: '/api/certification/targets/:id',
    summary: 'Every clause with the latest verdict on this target, or NOT-COVERED / NOT-RUN',
    params: targetParams,
    responses: { 200: certificationSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/certification/images/:sha256',
    summary: 'Every clause with the latest verdict for this image, or NOT-COVERED / NOT-RUN',
    params: shaParams,
    responses: { 200: certificationSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/events',
    summary:
      'Server-sent events: `run` (a RunView) and `matrix` (progress) of matrices the caller may see; a comment every 15 s',
    query: eventsQuery,
    responses: { 200: 'sse', 400: null, 404: null, 503: null },
  },
  {
    method: 'get',
    path: '/api/runs/:id',
    summary: 'A run: state, attempts, verdicts, artifacts',
    params: idParams,
    responses: { 200: runViewSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/runs/:id/attempts/:attempt/artifacts/:name',
    summary: 'One artifact of an attempt, streamed with its media type as an attachment',
    params: artifactParams,
    responses: { 200: 'binary', 400: null, 404: null },
  },
  {
    method: 'post',
    path: '/api/agents',
    summary: 'Register an agent',
    body: agentRegistrationSchema,
    responses: { 201: agentRegisteredSchema, 400: null },
  },
  {
    method: 'get',
    path: '/api/agents',
    summary: 'Agents and their status',
    responses: { 200: array(agentViewSchema) },
  },
  {
    method: 'post',
    path: '/api/agents/:id/heartbeat',
    summary: 'Agent heartbeat',
    params: idParams,
    responses: { 200: okSchema, 404: null },
  },
  {
    method: 'post',
    path: '/api/runs/:id/attempts/:n/start',
    summary: 'An agent starts attempt n of a run',
    params: attemptParams,
    body: attemptStartSchema,
    responses: { 200: attemptStartedSchema, 404: null },
  },
  {
    method: 'post',
    path: '/api/runs/:id/attempts/:n/result',
    summary: 'An agent reports attempt n (idempotent)',
    params: attemptParams,
    body: attemptResultSchema,
    responses: { 200: attemptAckSchema, 404: null },
  },
  {
    method: 'get',
    path: '/api/config',
    summary: 'Where agents find the queues',
    responses: { 200: farmConfigSchema },
  },
  {
    method: 'get',
    path: '/api/health',
    summary: 'Liveness and database check',
    public: true,
    responses: { 200: healthSchema, 503: healthSchema },
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    public: true,
    responses: { 200: null },
  },
  {
    method: 'post',
    path: '/api/session',
    summary: `Log in: sets the ${SESSION_COOKIE} cookie (HttpOnly, SameSite=Strict) to the token`,
    public: true,
    body: sessionCreateSchema,
    responses: { 204: null, 400: null, 401: null },
  },
  {
    method: 'delete',
    path: '/api/session',
    summary: `Log out: clears the ${SESSION_COOKIE} cookie`,
    public: true,
    responses: { 204: null },
  },
  {
    method: 'get',
    path: '/api/me',
    summary: "The caller's token: name, role, tenant",
    responses: { 200: meSchema },
  },
  {
    method: 'post',
    path: '/api/tokens',
    summary: 'Create a token (admin); the answer is the only time the token is shown',
    body: tokenCreateSchema,
    responses: { 201: tokenCreatedSchema, 400: null },
  },
  {
    method: 'get',
    path: '/api/tokens',
    summary: 'Every token, without secrets (admin)',
    responses: { 200: array(tokenViewSchema) },
  },
  {
    method: 'delete',
    path: '/api/tokens/:id',
    summary: 'Revoke a token (admin)',
    params: idParams,
    responses: { 204: null, 404: null },
  },
];

const json = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

function parameters(schema: z.ZodObject | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const doc = json(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(doc.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (doc.required ?? []).includes(name),
    schema: s,
  }));
}

const DESCRIPTIONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'Invalid request: every problem listed',
  401: 'No token, or an invalid or revoked one',
  403: "The token's role may not call this route",
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  503: 'Unavailable',
};

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    // Every route needing a token may answer 401 and 403.
    const codes = r.public ? r.responses : { ...r.responses, 401: null, 403: null };
    for (const [code, schema] of Object.entries(codes)) {
      const status = Number(code);
      const content =
        schema === 'binary'
          ? {
              'application/octet-stream': {
                schema: { type: 'string', contentMediaType: 'application/octet-stream' },
              },
            }
          : schema === 'xml'
            ? { 'application/xml': { schema: { type: 'string' } } }
            : schema === 'sse'
              ? { 'text/event-stream': { schema: { type: 'string' } } }
              : schema
                ? { 'application/json': { schema: json(schema, 'output') } }
                : status >= 400
                  ? { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } }
                  : undefined;
      responses[code] = { description: DESCRIPTIONS[status] ?? 'Response', ...(content ? { content } : {}) };
    }
    if (r.path.endsWith('/report'))
      (responses['200'] as { content: Record<string, unknown> }).content['application/xml'] = {
        schema: { type: 'string', description: 'JUnit XML (format=junit)' },
      };
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      ...(r.public ? { security: [] } : {}),
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content:
                r.body === 'binary'
                  ? Object.fromEntries(
                      IMAGE_MEDIA_TYPES.map((t) => [t, { schema: { type: 'string', contentMediaType: t } }]),
                    )
                  : { 'application/json': { schema: json(r.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'vmfarm controller', version },
    paths,
    components: {
      schemas: { ApiError: json(apiErrorSchema, 'output') },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (vmf_...)' },
        cookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'Set by POST /api/session',
        },
      },
    },
    // Either credential will do.
    security: [{ bearer: [] }, { cookie: [] }],
  };
}
