import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { tokenSecretSchema, type TokenCreate, type TokenCreated, type TokenView } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ControllerConfig } from '../config';
import { notFound } from '../errors';
import { TokensRepository } from '../store/tokens.repository';
import { CONFIG } from '../tokens';
import { Caller } from './caller';
import { newToken, tokenHash } from './secrets';

/** last_used_at is a hint for operators: written at most this often per token, not on every request. */
const TOUCH_EVERY_MS = 60_000;

export const ADMIN_TOKEN_FILE = 'admin.token';

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly log = new Logger('AuthService');
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly tokens: TokensRepository,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bootstrapAdmin();
  }

  /** The caller a token stands for; undefined unless it is a live token. */
  async authenticate(secret: string): Promise<Caller | undefined> {
    if (!tokenSecretSchema.safeParse(secret).success) return undefined;
    const row = await this.tokens.bySha256(tokenHash(secret));
    if (!row || row.revokedAt) return undefined;
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

  list(): Promise<TokenView[]> {
    return this.tokens.list();
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.tokens.revoke(id, new Date().toISOString()))) throw notFound(`no token ${id}`);
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
