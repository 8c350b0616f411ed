import { z } from 'zod';
import { apiErrorSchema } from './api';
import { SESSION_COOKIE } from './auth';
import { LIMITS, type LimitName } from './limits';
import type { RouteSpec, RouteTable } from './routes';

/** The OpenAPI 3.1 document of a route table (the controller serves the one of API). */

const json = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

function parameters(schema: z.ZodObject | undefined, where: 'path' | 'query' | 'header') {
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
  401: 'No token, or an invalid, revoked or expired one',
  403: "The token's role may not call this route, or may not act on this resource",
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large (see the limits)',
  415: 'Unsupported media type',
  422: 'Idempotency-Key reused with another request',
  429: 'A tenant limit is reached (see the limits)',
  503: 'A dependency (Redis, the database) does not answer',
};

/** The limits a route is bounded by, named as in the README's "Limits" table. */
function limitsOf(r: RouteSpec): LimitName[] {
  const names: LimitName[] = [];
  if (r.body) names.push(r.limits?.body ?? 'jsonBodyBytes');
  if (r.limits?.page) names.push('pageSize');
  if (r.body && typeof r.body === 'object' && 'binary' in r.body) names.push('tenantImageBytes');
  if (r.responses[200] !== 'binary' && r.responses[200] !== 'sse') names.push('responseBytes');
  return names;
}

export function openApiDocument(table: RouteTable, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of Object.values(table)) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    const withBody = r.body ? { 413: null } : {};
    // Every route needing a token may answer 401 and 403.
    const codes =
      r.auth === 'public'
        ? { ...withBody, ...r.responses }
        : { ...withBody, ...r.responses, 401: null, 403: null };
    for (const [code, payload] of Object.entries(codes)) {
      const status = Number(code);
      const content =
        payload === 'binary'
          ? {
              'application/octet-stream': {
                schema: { type: 'string', contentMediaType: 'application/octet-stream' },
              },
            }
          : payload === 'sse'
            ? { 'text/event-stream': { schema: { type: 'string' } } }
            : payload
              ? {
                  'application/json': { schema: json(payload, 'output') },
                  ...(r.alternate && status < 300
                    ? {
                        [r.alternate.mediaType]: {
                          schema: { type: 'string', description: `with ${r.alternate.when}` },
                        },
                      }
                    : {}),
                }
              : status >= 400
                ? { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } }
                : undefined;
      responses[code] = { description: DESCRIPTIONS[status] ?? 'Response', ...(content ? { content } : {}) };
    }
    const limits = limitsOf(r);
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      ...(r.auth === 'public' ? { security: [] } : { 'x-vmfarm-roles': r.auth }),
      ...(limits.length
        ? {
            'x-vmfarm-limits': Object.fromEntries(
              limits.map((l) => [l, { env: LIMITS[l].env, default: LIMITS[l].default }]),
            ),
          }
        : {}),
      parameters: [
        ...parameters(r.params, 'path'),
        ...parameters(r.query, 'query'),
        ...parameters(r.headers, 'header'),
      ],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content:
                'binary' in r.body
                  ? Object.fromEntries(
                      r.body.binary.map((t) => [t, { schema: { type: 'string', contentMediaType: t } }]),
                    )
                  : { 'application/json': { schema: json(r.body as z.ZodType, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'vmfarm controller',
      version,
      description:
        'Every input is bounded: x-vmfarm-limits names the limits of each operation, their environment variables and defaults.',
    },
    paths,
    components: {
      schemas: { ApiError: json(apiErrorSchema, 'output') },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (vmf_...)' },
        cookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'A session id set by POST /api/session (expires; revoked by DELETE /api/session)',
        },
      },
    },
    // Either credential will do.
    security: [{ bearer: [] }, { cookie: [] }],
  };
}
