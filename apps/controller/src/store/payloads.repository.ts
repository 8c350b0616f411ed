import { Inject, Injectable } from '@nestjs/common';
import type { PayloadInfo, PayloadManifest } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { PayloadsTable } from './schema';
import { DB } from './tokens';

const toInfo = (r: Selectable<PayloadsTable>): PayloadInfo => ({
  id: r.id,
  name: r.name,
  version: r.version,
  sha256: r.sha256,
  image: r.image_sha256,
  owner: r.owner,
  createdAt: r.created_at,
  manifest: JSON.parse(r.manifest) as PayloadManifest,
  files: JSON.parse(r.files) as PayloadInfo['files'],
});

/** Payloads, owned as images are: a vendor's are its tenant's, an admin's are public. */
@Injectable()
export class PayloadsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(p: PayloadInfo): Promise<void> {
    await this.db
      .insertInto('payloads')
      .values({
        id: p.id,
        name: p.name,
        version: p.version,
        sha256: p.sha256,
        image_sha256: p.image,
        manifest: JSON.stringify(p.manifest),
        files: JSON.stringify(p.files),
        owner: p.owner,
        created_at: p.createdAt,
      })
      .execute();
  }

  async get(id: string, caller: Caller): Promise<PayloadInfo | undefined> {
    const row = await visibleRows(this.db.selectFrom('payloads').selectAll(), caller, 'payloads.owner')
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toInfo(row);
  }

  /** The same content already added by this owner (a repeat add answers it). */
  async findContent(sha256: string, owner: string | null): Promise<PayloadInfo | undefined> {
    let q = this.db.selectFrom('payloads').selectAll().where('sha256', '=', sha256);
    q = owner === null ? q.where('owner', 'is', null) : q.where('owner', '=', owner);
    const row = await q.executeTakeFirst();
    return row && toInfo(row);
  }

  /** Newest first. */
  async list(caller: Caller, page: { limit: number; offset: number }): Promise<PayloadInfo[]> {
    const rows = await visibleRows(this.db.selectFrom('payloads').selectAll(), caller, 'payloads.owner')
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map(toInfo);
  }

  /**
   * The payload a matrix means by suite `name`: the caller's tenant's newest of that name, else the
   * newest public one (an admin's matrix: the public one; it does not pick a tenant's).
   */
  async byName(name: string, caller: Caller): Promise<PayloadInfo | undefined> {
    const rows = await visibleRows(this.db.selectFrom('payloads').selectAll(), caller, 'payloads.owner')
      .where('name', '=', name)
      .orderBy('created_at', 'desc')
      .execute();
    const row =
      rows.find((r) => r.owner !== null && r.owner === caller.owner) ?? rows.find((r) => r.owner === null);
    return row && toInfo(row);
  }
}
