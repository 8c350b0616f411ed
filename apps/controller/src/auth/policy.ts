import type { Role } from '@vmfarm/protocol';
import type { Caller } from './caller';

/** Who may call a route: nobody needs a token ('public'), or one of these roles. */
export type Access = 'public' | readonly Role[];

export const READERS: readonly Role[] = ['admin', 'vendor', 'viewer'];
export const WRITERS: readonly Role[] = ['admin', 'vendor'];
/** Routes agents call; admins too, so an operator can act for a broken agent. */
export const AGENTS: readonly Role[] = ['admin', 'agent'];
export const ADMINS: readonly Role[] = ['admin'];
export const EVERYONE: readonly Role[] = ['admin', 'vendor', 'viewer', 'agent'];

export type Decision = { ok: true } | { ok: false; status: 401 | 403; message: string };

/**
 * Whether `caller` may call a route with rule `access`. `presented`: a credential came with the
 * request (then a missing caller means it was unknown or revoked). A route without a rule is
 * refused: every route must say who may call it.
 */
export function decide(
  access: Access | undefined,
  caller: Caller | undefined,
  presented: boolean,
  route: string,
): Decision {
  if (access === 'public') return { ok: true };
  if (access === undefined) return { ok: false, status: 403, message: `${route} has no access rule` };
  if (!caller)
    return {
      ok: false,
      status: 401,
      message: presented
        ? 'invalid or revoked token'
        : 'no token: send "Authorization: Bearer <token>" or log in with POST /api/session',
    };
  if (!access.includes(caller.role))
    return { ok: false, status: 403, message: `a ${caller.role} token may not call ${route}` };
  return { ok: true };
}

/** The token of a request: the Bearer header wins over the session cookie. */
export function credentialOf(
  authorization: string | undefined,
  cookieHeader: string | undefined,
  cookieName: string,
): string | undefined {
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // A malformed header is still a credential presented: refused, never ignored for the cookie.
    return m ? m[1] : authorization;
  }
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return part.slice(eq + 1).trim();
      }
    }
  }
  return undefined;
}
