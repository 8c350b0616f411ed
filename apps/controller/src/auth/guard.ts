import { createParamDecorator, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { SESSION_COOKIE } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import { ApiHttpError } from '../errors';
import { routeOf } from '../http/route';
import { AuthService } from './auth.service';
import type { Caller } from './caller';
import { credentialOf, decide } from './policy';

const callers = new WeakMap<Request, Caller>();

/** The authenticated caller of a route that needs a token. */
export const Who = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const caller = callers.get(ctx.switchToHttp().getRequest<Request>());
  if (!caller) throw new Error('@Who() on a public route');
  return caller;
});

/**
 * The global guard: authenticates the Bearer token or the session cookie, then applies the rule
 * the route table gives the route. It runs before any body is read.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const access = routeOf(ctx)?.auth;
    if (access === 'public') return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    const credential = credentialOf(req.headers.authorization, req.headers.cookie, SESSION_COOKIE);
    const caller =
      credential === undefined
        ? undefined
        : credential.via === 'bearer'
          ? await this.auth.authenticate(credential.secret)
          : await this.auth.authenticateSession(credential.secret);
    const route = `${req.method} ${(req.route as { path?: string } | undefined)?.path ?? req.path}`;
    const decision = decide(access, caller, credential !== undefined, route);
    if (!decision.ok) {
      if (decision.status === 401)
        ctx
          .switchToHttp()
          .getResponse<Response>()
          .setHeader(
            'WWW-Authenticate',
            `Bearer realm="vmfarm"${credential === undefined ? '' : ', error="invalid_token"'}`,
          );
      const message =
        decision.status === 401 && credential?.via === 'cookie'
          ? 'the session expired or was ended: log in again (POST /api/session)'
          : decision.message;
      throw new ApiHttpError(decision.status, message);
    }
    if (caller) callers.set(req, caller);
    return true;
  }
}
