import {
  Inject,
  Injectable,
  Logger,
  StreamableFile,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { LIMITS, type RouteSpec } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import { from, map, switchMap, type Observable } from 'rxjs';
import type { z } from 'zod';
import type { ControllerConfig } from '../config';
import { ApiHttpError, badRequest, type FieldError } from '../errors';
import { CONFIG } from '../tokens';
import { readJsonBody } from './body';
import { routeOf, setInput } from './route';

/**
 * Every request of a table route, after the guard (so that nobody without a token gets a body
 * read): its JSON body read within the route's limit, then its params, query, headers and body
 * validated together against the table, so that a 400 lists every problem at once. Answers are
 * bounded in size and, with `validateResponses` (tests), checked against the table too.
 */
@Injectable()
export class RouteInterceptor implements NestInterceptor {
  private readonly log = new Logger('Routes');

  constructor(@Inject(CONFIG) private readonly config: ControllerConfig) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = routeOf(ctx);
    if (!spec) return next.handle();
    const req = ctx.switchToHttp().getRequest<Request>();
    const res = ctx.switchToHttp().getResponse<Response>();
    return from(this.prepare(spec, req)).pipe(
      switchMap(() => next.handle()),
      map((answer: unknown) => this.answer(spec, res, answer)),
    );
  }

  private async prepare(spec: RouteSpec, req: Request): Promise<void> {
    const binary = spec.body !== undefined && 'binary' in spec.body;
    let body: unknown;
    if (!binary) {
      const name = spec.limits?.body ?? 'jsonBodyBytes';
      body = await readJsonBody(req, this.config.limits[name], LIMITS[name].env);
    }
    const errors: FieldError[] = [];
    const input: Record<string, unknown> = {};
    const check = (where: string, schema: z.ZodType | undefined, value: unknown) => {
      if (!schema) return;
      const result = schema.safeParse(value);
      if (result.success) input[where] = result.data;
      else
        for (const issue of result.error.issues)
          errors.push({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message });
    };
    check('params', spec.params, req.params);
    check('query', spec.query, req.query);
    check('headers', spec.headers, req.headers);
    if (!binary) check('body', spec.body as z.ZodType | undefined, body);
    const query = input.query as { limit?: number } | undefined;
    const max = this.config.limits.pageSize;
    if (spec.limits?.page && query?.limit !== undefined) {
      // The default page is never over the configured maximum; a page asked for may not be.
      if ((req.query as Record<string, unknown>).limit === undefined)
        query.limit = Math.min(query.limit, max);
      else if (query.limit > max)
        errors.push({
          path: 'query.limit',
          message: `at most ${max} (${LIMITS.pageSize.env}); page with offset`,
        });
    }
    if (errors.length > 0)
      throw badRequest(
        `invalid request: ${errors[0].path}: ${errors[0].message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
        errors,
      );
    setInput(req, input);
  }

  /** Bounds a JSON answer, and in tests holds it to the route's schema for its status. */
  private answer(spec: RouteSpec, res: Response, answer: unknown): unknown {
    if (answer === undefined || answer instanceof StreamableFile || typeof answer === 'string') return answer;
    const bytes = Buffer.byteLength(JSON.stringify(answer));
    if (bytes > this.config.limits.responseBytes) {
      const paging = spec.query && 'offset' in spec.query.shape ? ': ask for a page (?offset=&limit=)' : '';
      throw new ApiHttpError(
        400,
        `the answer would be ${bytes} bytes, over the limit of ${this.config.limits.responseBytes} (${LIMITS.responseBytes.env})${paging}`,
      );
    }
    if (this.config.validateResponses) {
      const payload = spec.responses[res.statusCode];
      if (payload === undefined)
        throw this.mismatch(spec, `status ${res.statusCode} is not one the route table gives`);
      if (payload && typeof payload !== 'string') {
        const result = payload.safeParse(answer);
        if (!result.success) throw this.mismatch(spec, result.error.message);
      }
    }
    return answer;
  }

  private mismatch(spec: RouteSpec, why: string): ApiHttpError {
    this.log.error(`${spec.method.toUpperCase()} ${spec.path}: the answer breaks the route table: ${why}`);
    return new ApiHttpError(500, `the answer breaks the route table: ${why}`);
  }
}
