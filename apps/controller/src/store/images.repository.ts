import { Inject, Injectable } from '@nestjs/common';
import type { ImagePatch, ImageResource } from '@vmfarm/protocol';
import { sql, type Selectable, type SqlBool } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { ImagesTable } from './schema';
import { DB } from './tokens';

/**
 * For `visibleRows` over `images`: a tenant that uploaded bytes another tenant had uploaded first
 * was granted that image.
 */
export const grantedTo = (tenant: string) =>
  sql<SqlBool>`exists (select 1 from image_tenants g where g.sha256 = images.sha256 and g.tenant = ${tenant})`;

function toImage(row: Selectable<ImagesTable>, tags: readonly string[], caller: Caller): ImageResource {
  const scope = caller.scope;
  return {
    sha256: row.sha256,
    size: Number(row.size),
    format: row.format as ImageResource['format'],
    arch: row.arch as ImageResource['arch'],
    archDeclared: Number(row.arch_declared) === 1,
    name: row.name,
    version: row.version,
    tags: [...tags],
    // A vendor sees an image granted to it as its own: naming the tenant that uploaded it first
    // would tell it who else holds those bytes.
    owner: scope !== undefined && row.owner !== null ? scope : row.owner,
    uploadedAs: row.uploaded_as as ImageResource['uploadedAs'],
    createdAt: row.created_at,
  };
}

@Injectable()
export class ImagesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** The images of these rows with their tags (one more query, however many rows). */
  private async withTags(rows: Selectable<ImagesTable>[], caller: Caller): Promise<ImageResource[]> {
    const tags = new Map<string, string[]>(rows.map((r) => [r.sha256, []]));
    for (let i = 0; i < rows.length; i += 500) {
      const found = await this.db
        .selectFrom('image_tags')
        .select(['sha256', 'tag'])
        .where(
          'sha256',
          'in',
          rows.slice(i, i + 500).map((r) => r.sha256),
        )
        .orderBy('tag')
        .execute();
      for (const t of found) tags.get(t.sha256)?.push(t.tag);
    }
    return rows.map((r) => toImage(r, tags.get(r.sha256) ?? [], caller));
  }

  /** false when an image with that sha256 already exists (nothing changed). */
  async insert(image: ImageResource): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('images')
        .values({
          sha256: image.sha256,
          size: image.size,
          format: image.format,
          arch: image.arch,
          arch_declared: image.archDeclared ? 1 : 0,
          name: image.name,
          version: image.version,
          uploaded_as: image.uploadedAs,
          created_at: image.createdAt,
          owner: image.owner,
        })
        .onConflict((oc) => oc.column('sha256').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      if (image.tags.length > 0)
        await trx
          .insertInto('image_tags')
          .values([...new Set(image.tags)].map((tag) => ({ sha256: image.sha256, tag })))
          .execute();
      return true;
    });
  }

  /**
   * Applies the fields given (tags replace the whole set). 'missing': no such image the caller may
   * see; 'forbidden': it may see the image but not change it (public, or another tenant's).
   */
  async update(
    sha256: string,
    patch: ImagePatch,
    caller: Caller,
  ): Promise<'updated' | 'missing' | 'forbidden'> {
    return this.db.transaction().execute(async (trx) => {
      const found = await visibleRows(
        trx.selectFrom('images').select('owner'),
        caller,
        'images.owner',
        grantedTo,
      )
        .where('sha256', '=', sha256)
        .executeTakeFirst();
      if (!found) return 'missing';
      if (!caller.canWrite(found.owner)) return 'forbidden';
      const set = {
        ...(patch.name === undefined ? {} : { name: patch.name }),
        ...(patch.version === undefined ? {} : { version: patch.version }),
      };
      if (Object.keys(set).length > 0)
        await trx.updateTable('images').set(set).where('sha256', '=', sha256).execute();
      if (patch.tags) {
        await trx.deleteFrom('image_tags').where('sha256', '=', sha256).execute();
        if (patch.tags.length > 0)
          await trx
            .insertInto('image_tags')
            .values([...new Set(patch.tags)].map((tag) => ({ sha256, tag })))
            .execute();
      }
      return 'updated';
    });
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
    return visibleRows(this.db.selectFrom('images').selectAll(), caller, 'images.owner', grantedTo);
  }

  async get(sha256: string, caller: Caller): Promise<ImageResource | undefined> {
    const row = await this.visible(caller).where('sha256', '=', sha256).executeTakeFirst();
    return row && (await this.withTags([row], caller))[0];
  }

  async getMany(sha256s: readonly string[], caller: Caller): Promise<ImageResource[]> {
    if (sha256s.length === 0) return [];
    const rows = await this.visible(caller)
      .where('sha256', 'in', [...sha256s])
      .execute();
    return this.withTags(rows, caller);
  }

  /** Images the caller may see carrying every one of the tags (what a schedule's tag selector picks from). */
  async withEveryTag(tags: readonly string[], caller: Caller): Promise<ImageResource[]> {
    const wanted = [...new Set(tags)];
    if (wanted.length === 0) return [];
    const rows = await this.visible(caller)
      .where('sha256', 'in', (eb) =>
        eb
          .selectFrom('image_tags')
          .select('sha256')
          .where('tag', 'in', wanted)
          .groupBy('sha256')
          .having((h) => h.fn.count('tag'), '=', wanted.length),
      )
      .orderBy('created_at')
      .execute();
    return this.withTags(rows, caller);
  }

  async list(caller: Caller, page: { limit: number; offset: number }): Promise<ImageResource[]> {
    const rows = await this.visible(caller)
      .orderBy('created_at', 'desc')
      .orderBy('sha256')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return this.withTags(rows, caller);
  }

  /** Bytes (decompressed) of the images a tenant owns: what its quota counts. */
  async bytesOwnedBy(tenant: string): Promise<number> {
    const row = await this.db
      .selectFrom('images')
      .select((eb) => eb.fn.sum<number | string | null>('size').as('bytes'))
      .where('owner', '=', tenant)
      .executeTakeFirstOrThrow();
    return Number(row.bytes ?? 0);
  }
}
