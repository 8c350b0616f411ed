import { Inject, Injectable } from '@nestjs/common';
import type { Db } from './database';
import { DB } from './tokens';

export interface NewSession {
  id: string;
  /** sha256 hex of the session id the cookie carries: the id itself is never stored. */
  sha256: string;
  tokenId: string;
  createdAt: string;
  expiresAt: string;
}

@Injectable()
export class SessionsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(s: NewSession): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id: s.id,
        session_sha256: s.sha256,
        token_id: s.tokenId,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
        revoked_at: null,
      })
      .execute();
  }

  /** The token of a live session (not revoked, not expired at `now`, its token not revoked). */
  async liveToken(sha256: string, now: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('tokens', 'tokens.id', 'sessions.token_id')
      .select('sessions.token_id')
      .where('sessions.session_sha256', '=', sha256)
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', now)
      .where('tokens.revoked_at', 'is', null)
      .executeTakeFirst();
    return row?.token_id;
  }

  async revoke(sha256: string, at: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: at })
      .where('session_sha256', '=', sha256)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** A revoked token's sessions end with it. */
  async revokeOfToken(tokenId: string, at: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: at })
      .where('token_id', '=', tokenId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}
