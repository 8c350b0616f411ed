import { Inject, Injectable } from '@nestjs/common';
import type { Role, TokenView } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Db } from './database';
import type { TokensTable } from './schema';
import { DB } from './tokens';

export interface NewToken {
  id: string;
  name: string;
  role: Role;
  tenant: string | null;
  /** sha256 hex of the token: the token itself is never stored. */
  sha256: string;
  createdAt: string;
}

const toView = (r: Selectable<TokensTable>): TokenView => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  tenant: r.tenant,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

@Injectable()
export class TokensRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(token: NewToken): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({
        id: token.id,
        name: token.name,
        role: token.role,
        tenant: token.tenant,
        token_sha256: token.sha256,
        created_at: token.createdAt,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
  }

  /** The token with that hash, revoked or not. */
  async bySha256(sha256: string): Promise<TokenView | undefined> {
    const row = await this.db
      .selectFrom('tokens')
      .selectAll()
      .where('token_sha256', '=', sha256)
      .executeTakeFirst();
    return row && toView(row);
  }

  async byId(id: string): Promise<TokenView | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toView(row);
  }

  async hasLiveAdmin(): Promise<boolean> {
    const row = await this.db
      .selectFrom('tokens')
      .select('id')
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async list(page: { limit: number; offset: number }): Promise<TokenView[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map(toView);
  }

  /** false when there is no such token; revoking twice keeps the first time. */
  async revoke(id: string, at: string): Promise<boolean> {
    const row = await this.db.selectFrom('tokens').select('id').where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    return true;
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
