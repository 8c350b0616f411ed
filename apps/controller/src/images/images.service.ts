import { Inject, Injectable } from '@nestjs/common';
import { LIMITS, type Arch, type ImagePatch, type ImageResource } from '@vmfarm/protocol';
import { detectArch, ImageFormatError, Qcow2Source, RawSource, sniffFormat } from '@vmfarm/image';
import type { Readable } from 'node:stream';
import type { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { ApiHttpError, badRequest, notFound } from '../errors';
import { ImagesRepository } from '../store/images.repository';
import { CONFIG, IMAGE_STORE } from '../tokens';
import type { ImageStore, Ingested } from './image-store';

/** Checks the decompressed bytes look like a disk at all; returns the format. */
export function classify(ingested: Pick<Ingested, 'size' | 'head'>): ImageResource['format'] {
  if (ingested.size === 0) throw badRequest('empty body: expected the bytes of a disk image (raw or qcow2)');
  if (sniffFormat(ingested.head) === 'qcow2') return 'qcow2';
  if (ingested.size % 512 !== 0)
    throw badRequest(`not a disk image: ${ingested.size} bytes is not a whole number of 512-byte sectors`);
  return 'raw';
}

/**
 * Opens a qcow2 as the farm reads it: a backing file, an external data file, encryption or a
 * header QEMU would refuse is a 400 with the reason, so that no run ever meets such an image.
 */
export async function vetQcow2(path: string): Promise<void> {
  const file = await RawSource.open(path);
  try {
    await Qcow2Source.open(file);
  } catch (err) {
    if (err instanceof ImageFormatError) throw badRequest(`qcow2 image refused: ${err.message}`);
    throw err;
  } finally {
    await file.close();
  }
}

@Injectable()
export class ImagesService {
  constructor(
    private readonly images: ImagesRepository,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  /** Stores an upload, owned by the caller's tenant; `created` is false when that content was already there. */
  async upload(
    body: Readable,
    query: { name?: string; arch?: Arch; version?: string; tags?: string[] },
    contentLength: number | undefined,
    caller: Caller,
  ): Promise<{ created: boolean; image: ImageResource }> {
    const { imageBytes, tenantImageBytes } = this.config.limits;
    const tenant = caller.scope;
    // A vendor uploads within what is left of its tenant's quota, compressed bytes and decompressed.
    const left =
      tenant !== undefined && tenantImageBytes > 0
        ? Math.max(0, tenantImageBytes - (await this.images.bytesOwnedBy(tenant)))
        : Infinity;
    const quota = left < imageBytes;
    const limit = Math.min(imageBytes, left);
    const tooLarge = () =>
      quota
        ? new ApiHttpError(
            413,
            `upload over tenant ${tenant}'s image quota: ${left} of ${tenantImageBytes} bytes left (${LIMITS.tenantImageBytes.env})`,
          )
        : new ApiHttpError(413, `image larger than the limit of ${limit} bytes (${LIMITS.imageBytes.env})`);
    if (contentLength !== undefined && contentLength > limit) throw tooLarge();
    const ingested = await this.store.ingest(body, limit, tooLarge);
    let format: ImageResource['format'];
    try {
      format = classify(ingested);
      if (format === 'qcow2') await vetQcow2(ingested.tempPath);
    } catch (err) {
      await this.store.discard(ingested.tempPath);
      throw err;
    }
    const existing = await this.images.get(ingested.sha256, caller);
    await this.store.commit(ingested.tempPath, ingested.sha256);
    if (existing) return { created: false, image: existing };
    const image: ImageResource = {
      sha256: ingested.sha256,
      size: ingested.size,
      format,
      // Known at upload, so that a matrix can plan which targets each image can meet.
      arch: query.arch ?? (await detectArch(this.store.pathOf(ingested.sha256))),
      archDeclared: query.arch !== undefined,
      name: query.name || `image-${ingested.sha256.slice(0, 12)}`,
      version: query.version ?? null,
      tags: [...new Set(query.tags ?? [])].sort(),
      owner: caller.owner,
      uploadedAs: ingested.container,
      createdAt: new Date().toISOString(),
    };
    if (await this.images.insert(image)) return { created: true, image };
    // Another upload of the same bytes won the race, or another tenant has them: a vendor that
    // holds the bytes may use the image too.
    if (caller.scope !== undefined) await this.images.grant(image.sha256, caller.scope);
    return { created: false, image: (await this.images.get(image.sha256, caller)) ?? image };
  }

  /** 404 for an image the caller may not see, as for one that does not exist. */
  async get(sha256: string, caller: Caller): Promise<ImageResource> {
    const image = await this.images.get(sha256, caller);
    if (!image) throw notFound(`no image ${sha256}`);
    return image;
  }

  /**
   * Renames, re-versions or re-tags an image (content is immutable: the sha256 stays). Only its
   * owner or an admin may: 404 for an image the caller may not see, 403 for one it only shares.
   */
  async patch(sha256: string, patch: ImagePatch, caller: Caller): Promise<ImageResource> {
    const outcome = await this.images.update(sha256, patch, caller);
    if (outcome === 'missing') throw notFound(`no image ${sha256}`);
    if (outcome === 'forbidden')
      throw new ApiHttpError(403, `image ${sha256} is public or shared: only an admin may change it`);
    return this.get(sha256, caller);
  }

  list(caller: Caller, page: { limit: number; offset: number }): Promise<ImageResource[]> {
    return this.images.list(caller, page);
  }

  async content(sha256: string, caller: Caller): Promise<{ image: ImageResource; stream: Readable }> {
    const image = await this.get(sha256, caller);
    if (!this.store.exists(sha256)) throw notFound(`image ${sha256} is registered but its file is missing`);
    return { image, stream: this.store.open(sha256) };
  }
}
