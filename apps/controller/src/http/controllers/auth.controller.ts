import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  SESSION_COOKIE,
  sessionCreateSchema,
  tokenCreateSchema,
  type Me,
  type TokenCreated,
  type TokenView,
} from '@vmfarm/protocol';
import type { CookieOptions, Request, Response } from 'express';
import { AuthService } from '../../auth/auth.service';
import type { Caller } from '../../auth/caller';
import { Allow, Public, Who } from '../../auth/guard';
import { ADMINS, EVERYONE } from '../../auth/policy';
import { ApiHttpError } from '../../errors';
import { idParams } from '../schemas';
import { validate } from '../validate';

/** HttpOnly: page scripts never see the token; SameSite=Strict: other sites cannot send it. */
const cookie = (req: Request): CookieOptions => ({
  httpOnly: true,
  sameSite: 'strict',
  path: '/',
  secure: req.secure,
});

/** Sessions (the dashboard's cookie), the caller's identity, and token administration. */
@Controller('api')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('session')
  @Public()
  @HttpCode(204)
  async login(
    @Body() body: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const { token } = validate({ body: [sessionCreateSchema, body] }).body;
    if (!(await this.auth.authenticate(token))) throw new ApiHttpError(401, 'invalid or revoked token');
    res.cookie(SESSION_COOKIE, token, cookie(req));
  }

  @Delete('session')
  @Public()
  @HttpCode(204)
  logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): void {
    res.clearCookie(SESSION_COOKIE, cookie(req));
  }

  @Get('me')
  @Allow(EVERYONE)
  me(@Who() caller: Caller): Me {
    return caller.identity;
  }

  @Post('tokens')
  @Allow(ADMINS)
  create(@Body() body: unknown): Promise<TokenCreated> {
    return this.auth.create(validate({ body: [tokenCreateSchema, body] }).body);
  }

  @Get('tokens')
  @Allow(ADMINS)
  list(): Promise<TokenView[]> {
    return this.auth.list();
  }

  @Delete('tokens/:id')
  @Allow(ADMINS)
  @HttpCode(204)
  revoke(@Param() params: unknown): Promise<void> {
    return this.auth.revoke(validate({ params: [idParams, params] }).params.id);
  }
}
