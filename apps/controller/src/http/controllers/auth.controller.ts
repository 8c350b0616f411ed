import { Controller, Req, Res } from '@nestjs/common';
import { API, SESSION_COOKIE, type Me, type TokenCreated, type TokenView } from '@vmfarm/protocol';
import type { CookieOptions, Request, Response } from 'express';
import { AuthService } from '../../auth/auth.service';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { credentialOf } from '../../auth/policy';
import { ApiHttpError } from '../../errors';
import { In, Route } from '../route';

/** HttpOnly: page scripts never see the session id; SameSite=Strict: other sites cannot send it. */
const cookie = (req: Request): CookieOptions => ({
  httpOnly: true,
  sameSite: 'strict',
  path: '/',
  secure: req.secure,
});

/** Sessions (the dashboard's cookie), the caller's identity, and token administration. */
@Controller()
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** The cookie carries a new session id that expires, never the token. */
  @Route(API.login)
  async login(
    @In() input: In<typeof API.login>,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const session = await this.auth.openSession(input.body.token);
    if (!session) throw new ApiHttpError(401, 'invalid or revoked token');
    res.cookie(SESSION_COOKIE, session.id, { ...cookie(req), expires: session.expiresAt });
  }

  /** Ends the session of the cookie (its id is refused from now on) and clears the cookie. */
  @Route(API.logout)
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    const credential = credentialOf(undefined, req.headers.cookie, SESSION_COOKIE);
    if (credential) await this.auth.closeSession(credential.secret);
    res.clearCookie(SESSION_COOKIE, cookie(req));
  }

  @Route(API.me)
  me(@Who() caller: Caller): Me {
    return caller.identity;
  }

  @Route(API.createToken)
  create(@In() input: In<typeof API.createToken>): Promise<TokenCreated> {
    return this.auth.create(input.body);
  }

  @Route(API.listTokens)
  list(@In() input: In<typeof API.listTokens>): Promise<TokenView[]> {
    return this.auth.list(input.query);
  }

  @Route(API.revokeToken)
  revoke(@In() input: In<typeof API.revokeToken>): Promise<void> {
    return this.auth.revoke(input.params.id);
  }
}
