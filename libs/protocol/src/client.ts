import { z } from 'zod';
import { apiErrorSchema, type ApiError } from './api';
import type { Payload, RouteSpec, RouteTable } from './routes';

/**
 * The one typed client of the REST API, built on the route table (routes.ts): the agent, the CLI
 * and the dashboard call the controller through it. It uses only `fetch`, so it runs in Node and
 * in the browser alike.
 */

// fetch's own types, named from RequestInit (Node's type set has no DOM names).
type BodyInit = NonNullable<RequestInit['body']>;
type RequestCredentials = NonNullable<RequestInit['credentials']>;

type Of<R, K extends string> = R extends { [P in K]: infer T } ? T : undefined;

/** What a caller gives: path parameters, query, headers and body, as the route declares them. */
export type RouteInput<R extends RouteSpec> = (Of<R, 'params'> extends z.ZodObject
  ? { params: z.output<Of<R, 'params'>> }
  : unknown) &
  (Of<R, 'query'> extends z.ZodObject ? { query?: Partial<z.output<Of<R, 'query'>>> } : unknown) &
  (Of<R, 'headers'> extends z.ZodObject ? { headers?: Partial<z.output<Of<R, 'headers'>>> } : unknown) &
  (Of<R, 'body'> extends z.ZodType
    ? { body: z.input<Of<R, 'body'>> }
    : Of<R, 'body'> extends { binary: readonly (infer M)[] }
      ? { body: BodyInit; contentType?: M; contentLength?: number }
      : unknown);

/** What the controller's handler gets once the input is validated. */
export type RouteParsed<R extends RouteSpec> = {
  params: Of<R, 'params'> extends z.ZodObject ? z.output<Of<R, 'params'>> : undefined;
  query: Of<R, 'query'> extends z.ZodObject ? z.output<Of<R, 'query'>> : undefined;
  headers: Of<R, 'headers'> extends z.ZodObject ? z.output<Of<R, 'headers'>> : undefined;
  body: Of<R, 'body'> extends z.ZodType ? z.output<Of<R, 'body'>> : undefined;
};

type SuccessPayload<R extends RouteSpec> = {
  [K in keyof R['responses']]: K extends 200 | 201 | 202 | 204 ? R['responses'][K] : never;
}[keyof R['responses']];

type Decoded<P> = P extends z.ZodType ? z.output<P> : P extends 'binary' | 'sse' ? Response : void;

/** What a call resolves with: the answer validated against its schema, a Response for streams. */
export type RouteOutput<R extends RouteSpec> =
  | Decoded<SuccessPayload<R>>
  | (R extends { alternate: object } ? string : never);

/**
 * A call that did not get a 2xx answer it could read. `status` is 0 when the controller could not
 * be reached (or did not answer in time: `timedOut`); `unexpected` when a 2xx answer did not match
 * the route's schema (client and controller disagree about the contract).
 */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    readonly status: number,
    message: string,
    readonly route: string,
    readonly errors: ApiError['errors'] = [],
    readonly detail: { unexpected?: boolean; timedOut?: boolean; cause?: unknown } = {},
  ) {
    super(message);
  }
}

export interface ClientOptions {
  /** The controller's origin, e.g. http://127.0.0.1:8700; '' in the browser (same origin). */
  baseUrl?: string;
  /** An API token, sent as `Authorization: Bearer`; the dashboard sends its session cookie instead. */
  token?: string;
  credentials?: RequestCredentials;
  /** Per call unless the call says otherwise; none by default. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's; 0: no time limit. */
  timeoutMs?: number;
}

/** A route whose every input is optional may be called without one. */
type Method<R extends RouteSpec, T> =
  Partial<RouteInput<R>> extends RouteInput<R>
    ? (input?: RouteInput<R>, options?: CallOptions) => Promise<T>
    : (input: RouteInput<R>, options?: CallOptions) => Promise<T>;

export type ApiClient<T extends RouteTable> = { [K in keyof T]: Method<T[K], RouteOutput<T[K]>> } & {
  /** The same calls answering the Response itself (2xx only; errors are thrown as by the others). */
  raw: { [K in keyof T]: Method<T[K], Response> };
};

const routeName = (r: RouteSpec) => `${r.method.toUpperCase()} ${r.path}`;

/** The URL (relative to `baseUrl`) and request of one call. */
export function buildRequest(
  route: RouteSpec,
  input: Record<string, unknown> = {},
  options: ClientOptions = {},
): { url: string; init: RequestInit } {
  const params = (input.params ?? {}) as Record<string, unknown>;
  let path = route.path.replace(/:(\w+)/g, (_, name: string) => {
    if (params[name] === undefined) throw new TypeError(`${routeName(route)}: parameter ${name} is missing`);
    return encodeURIComponent(String(params[name]));
  });
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries((input.query ?? {}) as Record<string, unknown>))
    if (v !== undefined && v !== '') query.set(k, String(v));
  if (query.size > 0) path += `?${query}`;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((input.headers ?? {}) as Record<string, unknown>))
    if (v !== undefined) headers[k] = String(v);
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined;
  if (route.body && typeof route.body === 'object' && 'binary' in route.body) {
    body = input.body as BodyInit;
    headers['content-type'] = (input.contentType as string | undefined) ?? route.body.binary[0];
    if (input.contentLength !== undefined) headers['content-length'] = String(input.contentLength);
  } else if (route.body) {
    body = JSON.stringify(input.body);
    headers['content-type'] = 'application/json';
  }
  return {
    url: `${options.baseUrl ?? ''}${path}`,
    init: {
      method: route.method.toUpperCase(),
      headers,
      body,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // A streamed body (an upload) needs half-duplex in Node's fetch.
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    },
  };
}

/** What a refusal says: an ApiError's message and field errors (a proxy's may have less). */
const refusalSchema = apiErrorSchema.pick({ message: true }).extend({
  errors: apiErrorSchema.shape.errors.optional(),
});

/** The ApiError of a refused call, or the start of whatever else the body was. */
export function requestErrorOf(route: RouteSpec, status: number, text: string): ApiRequestError {
  let parsed: { message: string; errors?: ApiError['errors'] } | undefined;
  try {
    parsed = refusalSchema.parse(JSON.parse(text));
  } catch {
    // not an ApiError (a proxy's page, say): quote it
  }
  const message = parsed?.message ?? (text.trim().split('\n')[0]?.slice(0, 200) || `HTTP ${status}`);
  return new ApiRequestError(status, message, routeName(route), parsed?.errors ?? []);
}

/** A 2xx answer's text, checked against the route's schema for its status. */
export function parseAnswer(route: RouteSpec, status: number, text: string): unknown {
  const payload: Payload | undefined = route.responses[status];
  if (payload === undefined)
    throw new ApiRequestError(status, `unexpected answer: status ${status}`, routeName(route), [], {
      unexpected: true,
    });
  if (payload === null || typeof payload === 'string') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiRequestError(status, `unexpected answer: not JSON`, routeName(route), [], {
      unexpected: true,
    });
  }
  const result = payload.safeParse(json);
  if (!result.success)
    throw new ApiRequestError(
      status,
      `unexpected answer: ${z.prettifyError(result.error)}`,
      routeName(route),
      [],
      { unexpected: true },
    );
  return result.data;
}

/** The call's signal and time limit (0: none, e.g. for a download that takes as long as it takes). */
function signalOf(options: ClientOptions, call: CallOptions): AbortSignal | undefined {
  const ms = call.timeoutMs ?? options.timeoutMs;
  const signals = [call.signal, ms ? AbortSignal.timeout(ms) : undefined].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}

/** Sends one call; a non-2xx answer or no answer is an ApiRequestError. */
export async function callRoute(
  route: RouteSpec,
  input: Record<string, unknown> | undefined,
  options: ClientOptions,
  call: CallOptions = {},
): Promise<Response> {
  const { url, init } = buildRequest(route, input, options);
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, { ...init, signal: signalOf(options, call) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const timedOut = e.name === 'TimeoutError';
    const why = timedOut
      ? `no answer within ${(call.timeoutMs ?? options.timeoutMs ?? 0) / 1000} s`
      : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new ApiRequestError(0, why, routeName(route), [], { timedOut, cause: err });
  }
  if (!res.ok) throw requestErrorOf(route, res.status, await res.text().catch(() => ''));
  return res;
}

/** Reads a 2xx answer as the route says: validated JSON, text for an alternate, the Response for streams. */
export async function readAnswer(route: RouteSpec, res: Response): Promise<unknown> {
  const payload = route.responses[res.status];
  if (payload === 'binary' || payload === 'sse') return res;
  if (payload === null) {
    await res.body?.cancel();
    return undefined;
  }
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  if (route.alternate && type.startsWith(route.alternate.mediaType)) return text;
  return parseAnswer(route, res.status, text);
}

/** A client of every route of `table`, named as in the table: `client.getMatrix({ params: { id } })`. */
export function createClient<T extends RouteTable>(table: T, options: ClientOptions = {}): ApiClient<T> {
  const calls: Record<string, unknown> = {};
  const raw: Record<string, unknown> = {};
  for (const [name, route] of Object.entries(table)) {
    raw[name] = (input?: Record<string, unknown>, call?: CallOptions) =>
      callRoute(route, input, options, call);
    calls[name] = async (input?: Record<string, unknown>, call?: CallOptions) =>
      readAnswer(route, await callRoute(route, input, options, call));
  }
  return { ...calls, raw } as ApiClient<T>;
}
