import { Inject, Injectable } from '@nestjs/common';
import type { TargetProfile } from '@vmfarm/protocol';
import type { Db } from './database';
import { DB } from './tokens';

/** User target profiles, stored resolved (their base's fields already merged in). */
@Injectable()
export class TargetsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** false when the id is taken. */
  async insert(profile: TargetProfile, createdAt: string): Promise<boolean> {
    const result = await this.db
      .insertInto('targets')
      .values({ id: profile.id, kind: profile.kind, profile: JSON.stringify(profile), created_at: createdAt })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(id: string): Promise<TargetProfile | undefined> {
    const row = await this.db.selectFrom('targets').select('profile').where('id', '=', id).executeTakeFirst();
    return row && (JSON.parse(row.profile) as TargetProfile);
  }

  async list(): Promise<TargetProfile[]> {
    const rows = await this.db.selectFrom('targets').select('profile').orderBy('id').execute();
    return rows.map((r) => JSON.parse(r.profile) as TargetProfile);
  }
}
