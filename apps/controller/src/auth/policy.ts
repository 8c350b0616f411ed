import type { Access } from '@vmfarm/protocol';
import type { Caller } from './caller';

/** Who may call a route is in the route table (libs/protocol routes.ts): `auth` of each entry. */
export { ADMINS, AGENTS, EVERYONE, READERS, WRITERS, type Access } from '@vmfarm/protocol';

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
  if (!(access as readonly string[]).includes(caller.role))
    return { ok: false, status: 403, message: `a ${caller.role} token may not call ${route}` };
  return { ok: true };
}

/** A request's credential: the Bearer header (an API token) wins over the session cookie (a session id). */
export function credentialOf(
  authorization: string | undefined,
  cookieHeader: string | undefined,
  cookieName: string,
): { via: 'bearer' | 'cookie'; secret: string } | undefined {
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // A malformed header is still a credential presented: refused, never ignored for the cookie.
    return { via: 'bearer', secret: m ? m[1] : authorization };
  }
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
      const value = part.slice(eq + 1).trim();
      try {
        return { via: 'cookie', secret: decodeURIComponent(value) };
      } catch {
        return { via: 'cookie', secret: value };
      }
    }
  }
  return undefined;
}
