import {
  createParamDecorator,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SESSION_COOKIE, type Role } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import { ApiHttpError } from '../errors';
import { AuthService } from './auth.service';
import type { Caller } from './caller';
import { credentialOf, decide, type Access } from './policy';

const ACCESS = 'vmfarm:access';

/** Anyone may call this route, with or without a token. */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);
/** Only these roles may call this route (ownership is checked by the services, per row). */
export const Allow = (roles: readonly Role[]) => SetMetadata(ACCESS, roles satisfies Access);

const callers = new WeakMap<Request, Caller>();

/** The authenticated caller of a route guarded by `@Allow`. */
export const Who = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const caller = callers.get(ctx.switchToHttp().getRequest<Request>());
  if (!caller) throw new Error('@Who() on a route without @Allow(...)');
  return caller;
});

/** The global guard: authenticates the Bearer header or the session cookie, then applies the route's rule. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (access === 'public') return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    const secret = credentialOf(req.headers.authorization, req.headers.cookie, SESSION_COOKIE);
    const caller = secret === undefined ? undefined : await this.auth.authenticate(secret);
    const route = `${req.method} ${(req.route as { path?: string } | undefined)?.path ?? req.path}`;
    const decision = decide(access, caller, secret !== undefined, route);
    if (!decision.ok) {
      if (decision.status === 401)
        ctx
          .switchToHttp()
          .getResponse<Response>()
          .setHeader(
            'WWW-Authenticate',
            `Bearer realm="vmfarm"${secret === undefined ? '' : ', error="invalid_token"'}`,
          );
      throw new ApiHttpError(decision.status, decision.message);
    }
    if (caller) callers.set(req, caller);
    return true;
  }
}
