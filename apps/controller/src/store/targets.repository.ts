import { Inject, Injectable } from '@nestjs/common';
import type { TargetProfile } from '@vmfarm/protocol';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import { DB } from './tokens';

/** User target profiles, stored resolved (their base's fields already merged in). */
@Injectable()
export class TargetsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** false when the id is taken. */
  async insert(profile: TargetProfile, createdAt: string, owner: string | null): Promise<boolean> {
    const result = await this.db
      .insertInto('targets')
      .values({
        id: profile.id,
        kind: profile.kind,
        profile: JSON.stringify(profile),
        created_at: createdAt,
        owner,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(id: string, caller: Caller): Promise<TargetProfile | undefined> {
    const row = await visibleRows(this.db.selectFrom('targets').select('profile'), caller, 'targets.owner')
      .where('id', '=', id)
      .executeTakeFirst();
    return row && (JSON.parse(row.profile) as TargetProfile);
  }

  async list(caller: Caller): Promise<TargetProfile[]> {
    const rows = await visibleRows(this.db.selectFrom('targets').select('profile'), caller, 'targets.owner')
      .orderBy('id')
      .execute();
    return rows.map((r) => JSON.parse(r.profile) as TargetProfile);
  }
}
