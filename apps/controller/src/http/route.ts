import {
  applyDecorators,
  createParamDecorator,
  HttpCode,
  RequestMapping,
  RequestMethod,
  SetMetadata,
  type ExecutionContext,
} from '@nestjs/common';
import type { RouteParsed, RouteSpec } from '@vmfarm/protocol';
import type { Request } from 'express';

const ROUTE = 'vmfarm:route';

const METHODS: Record<RouteSpec['method'], RequestMethod> = {
  get: RequestMethod.GET,
  put: RequestMethod.PUT,
  post: RequestMethod.POST,
  patch: RequestMethod.PATCH,
  delete: RequestMethod.DELETE,
};

/** The highest 2xx status of a route (201 of 200/201): what it answers unless the handler sets another. */
export function successStatus(spec: RouteSpec): number {
  return Math.max(
    ...Object.keys(spec.responses)
      .map(Number)
      .filter((s) => s >= 200 && s < 300),
  );
}

/**
 * Serves a handler as a route of the table: its method and path, its success status, and the rule
 * of who may call it (the guard reads it), all from the table entry. Controllers have no prefix.
 */
export const Route = (spec: RouteSpec) =>
  applyDecorators(
    RequestMapping({ path: spec.path, method: METHODS[spec.method] }),
    HttpCode(successStatus(spec)),
    SetMetadata(ROUTE, spec),
  );

/** The route table entry a handler serves (undefined for a handler outside the table). */
export function routeOf(ctx: ExecutionContext): RouteSpec | undefined {
  return Reflect.getMetadata(ROUTE, ctx.getHandler()) as RouteSpec | undefined;
}

const parsed = new WeakMap<Request, unknown>();

export function setInput(req: Request, input: unknown): void {
  parsed.set(req, input);
}

/** The request's params, query, headers and body, validated against the route's schemas. */
export const In = createParamDecorator((_data: unknown, ctx: ExecutionContext) => {
  const input = parsed.get(ctx.switchToHttp().getRequest<Request>());
  if (!input) throw new Error('@In() on a handler without @Route(...)');
  return input;
});

/** The type `@In()` gives the handler of `spec`. */
export type In<R extends RouteSpec> = RouteParsed<R>;
