import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { tokenSecretSchema, type TokenCreate, type TokenCreated, type TokenView } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ControllerConfig } from '../config';
import { notFound } from '../errors';
import { SessionsRepository } from '../store/sessions.repository';
import { TokensRepository } from '../store/tokens.repository';
import { CONFIG } from '../tokens';
import { Caller } from './caller';
import { newSessionId, newToken, sessionIdSchema, tokenHash } from './secrets';

/** last_used_at is a hint for operators: written at most this often per token, not on every request. */
const TOUCH_EVERY_MS = 60_000;

export const ADMIN_TOKEN_FILE = 'admin.token';

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly log = new Logger('AuthService');
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly tokens: TokensRepository,
    private readonly sessions: SessionsRepository,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bootstrapAdmin();
  }

  /** The caller a token stands for; undefined unless it is a live token. */
  async authenticate(secret: string): Promise<Caller | undefined> {
    if (!tokenSecretSchema.safeParse(secret).success) return undefined;
    const row = await this.tokens.bySha256(tokenHash(secret));
    return row && !row.revokedAt ? this.callerOf(row) : undefined;
  }

  /** The caller of a session cookie: its token's, while the session is live and the token too. */
  async authenticateSession(sessionId: string): Promise<Caller | undefined> {
    if (!sessionIdSchema.safeParse(sessionId).success) return undefined;
    const tokenId = await this.sessions.liveToken(tokenHash(sessionId), new Date().toISOString());
    const row = tokenId === undefined ? undefined : await this.tokens.byId(tokenId);
    return row && !row.revokedAt ? this.callerOf(row) : undefined;
  }

  /** A new session of a live token: the id for the cookie (never stored) and its expiry; undefined for a bad token. */
  async openSession(token: string): Promise<{ id: string; expiresAt: Date } | undefined> {
    const caller = await this.authenticate(token);
    if (!caller) return undefined;
    const id = newSessionId();
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.config.limits.sessionSeconds * 1000);
    await this.sessions.insert({
      id: randomUUID(),
      sha256: tokenHash(id),
      tokenId: caller.identity.id,
      createdAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
    });
    return { id, expiresAt };
  }

  /** Logging out: the session id stops working at once, wherever a copy of the cookie is. */
  async closeSession(sessionId: string): Promise<void> {
    await this.sessions.revoke(tokenHash(sessionId), new Date().toISOString());
  }

  private async callerOf(row: TokenView): Promise<Caller> {
    const now = Date.now();
    if (now - (this.touched.get(row.id) ?? 0) >= TOUCH_EVERY_MS) {
      this.touched.set(row.id, now);
      await this.tokens.touch(row.id, new Date(now).toISOString());
    }
    return new Caller({ id: row.id, name: row.name, role: row.role, tenant: row.tenant });
  }

  async create(input: TokenCreate): Promise<TokenCreated> {
    const token = newToken();
    const id = randomUUID();
    const tenant = input.tenant ?? null;
    await this.tokens.insert({
      id,
      name: input.name,
      role: input.role,
      tenant,
      sha256: tokenHash(token),
      createdAt: new Date().toISOString(),
    });
    return { id, name: input.name, role: input.role, tenant, token };
  }

  list(page: { limit: number; offset: number }): Promise<TokenView[]> {
    return this.tokens.list(page);
  }

  async revoke(id: string): Promise<void> {
    const at = new Date().toISOString();
    if (!(await this.tokens.revoke(id, at))) throw notFound(`no token ${id}`);
    await this.sessions.revokeOfToken(id, at);
  }

  /**
   * A farm always has a way in: VMFARM_ADMIN_TOKEN is registered as an admin token; without it, a
   * database with no live admin token gets a new one, printed once and written to
   * <data>/admin.token (0600) for the CLI on this host.
   */
  private async bootstrapAdmin(): Promise<void> {
    const preset = this.config.adminToken;
    if (preset) {
      const known = await this.tokens.bySha256(tokenHash(preset));
      if (!known) await this.insertAdmin(preset, 'admin (VMFARM_ADMIN_TOKEN)');
      else if (known.revokedAt) this.log.warn('VMFARM_ADMIN_TOKEN names a revoked token: it is refused');
      return;
    }
    if (await this.tokens.hasLiveAdmin()) return;
    const token = newToken();
    await this.insertAdmin(token, 'admin (first start)');
    const file = path.join(this.config.dataDir, ADMIN_TOKEN_FILE);
    // Removed first: the mode of writeFileSync applies only to a file it creates.
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    process.stderr.write(`vmfarm admin token: ${token} (shown once; also in ${file})\n`);
  }

  private insertAdmin(token: string, name: string): Promise<void> {
    return this.tokens.insert({
      id: randomUUID(),
      name,
      role: 'admin',
      tenant: null,
      sha256: tokenHash(token),
      createdAt: new Date().toISOString(),
    });
  }
}
