import { Inject, Injectable } from '@nestjs/common';
import type { ImageResource } from '@vmfarm/protocol';
import { sql, type Selectable, type SqlBool } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { ImagesTable } from './schema';
import { DB } from './tokens';

function toImage(row: Selectable<ImagesTable>): ImageResource {
  return {
    sha256: row.sha256,
    size: Number(row.size),
    format: row.format as ImageResource['format'],
    arch: row.arch as ImageResource['arch'],
    name: row.name,
    uploadedAs: row.uploaded_as as ImageResource['uploadedAs'],
    createdAt: row.created_at,
  };
}

@Injectable()
export class ImagesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** false when an image with that sha256 already exists (nothing changed). */
  async insert(image: ImageResource, owner: string | null): Promise<boolean> {
    const result = await this.db
      .insertInto('images')
      .values({
        sha256: image.sha256,
        size: image.size,
        format: image.format,
        arch: image.arch,
        name: image.name,
        uploaded_as: image.uploadedAs,
        created_at: image.createdAt,
        owner,
      })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Records the architecture a suite detected, for images uploaded without one. */
  async setArchIfUnknown(sha256: string, arch: NonNullable<ImageResource['arch']>): Promise<void> {
    await this.db
      .updateTable('images')
      .set({ arch })
      .where('sha256', '=', sha256)
      .where('arch', 'is', null)
      .execute();
  }

  /** A tenant that uploaded bytes another tenant had uploaded first may use that image too. */
  async grant(sha256: string, tenant: string): Promise<void> {
    await this.db
      .insertInto('image_tenants')
      .values({ sha256, tenant })
      .onConflict((oc) => oc.columns(['sha256', 'tenant']).doNothing())
      .execute();
  }

  /** Images the caller may see: own, public, or granted. */
  private visible(caller: Caller) {
    return visibleRows(
      this.db.selectFrom('images').selectAll(),
      caller,
      'images.owner',
      (tenant) =>
        sql<SqlBool>`exists (select 1 from image_tenants g where g.sha256 = images.sha256 and g.tenant = ${tenant})`,
    );
  }

  async get(sha256: string, caller: Caller): Promise<ImageResource | undefined> {
    const row = await this.visible(caller).where('sha256', '=', sha256).executeTakeFirst();
    return row && toImage(row);
  }

  async getMany(sha256s: readonly string[], caller: Caller): Promise<ImageResource[]> {
    if (sha256s.length === 0) return [];
    const rows = await this.visible(caller)
      .where('sha256', 'in', [...sha256s])
      .execute();
    return rows.map(toImage);
  }

  async list(caller: Caller, limit = 500): Promise<ImageResource[]> {
    const rows = await this.visible(caller)
      .orderBy('created_at', 'desc')
      .orderBy('sha256')
      .limit(limit)
      .execute();
    return rows.map(toImage);
  }
}
