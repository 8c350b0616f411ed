import { Inject, Injectable } from '@nestjs/common';
import type { PayloadCreate, PayloadInfo } from '@vmfarm/protocol';
import { payloadDisk } from '@vmfarm/suites';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { badRequest, notFound, type FieldError } from '../errors';
import { ImagesService } from '../images/images.service';
import { PayloadsRepository } from '../store/payloads.repository';
import { CONFIG } from '../tokens';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Third-party payloads (issue 13). Adding one checks its files against its manifest, builds its
 * boot disk (GPT + FAT32 ESP: the Shell at the removable path, the payload and startup.nsh
 * beside it) and stores that disk as an image of the caller, so that runs, agents, caches and
 * tenancy treat it as any image. The matrix suite named after the payload boots that disk.
 */
@Injectable()
export class PayloadsService {
  constructor(
    private readonly payloads: PayloadsRepository,
    private readonly images: ImagesService,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  async add(body: PayloadCreate, caller: Caller): Promise<{ created: boolean; payload: PayloadInfo }> {
    const { manifest } = body;
    const errors: FieldError[] = [];
    const files = new Map<string, Buffer>();
    body.files.forEach((f, i) => {
      if (files.has(f.file)) errors.push({ path: `files.${i}.file`, message: `${f.file} given twice` });
      files.set(f.file, Buffer.from(f.contentBase64, 'base64'));
    });
    const named = [...manifest.apps, ...(manifest.shell ? [manifest.shell] : [])];
    for (const [i, n] of named.entries()) {
      const data = files.get(n.file);
      if (!data)
        errors.push({ path: 'files', message: `the manifest names ${n.file}, which is not among the files` });
      else if (n.sha256 && sha256(data) !== n.sha256)
        errors.push({
          path: `manifest.${i < manifest.apps.length ? `apps.${i}` : 'shell'}.sha256`,
          message: `${n.file} has sha256 ${sha256(data)}, not ${n.sha256} as the manifest says`,
        });
    }
    for (const f of files.keys())
      if (!named.some((n) => n.file === f))
        errors.push({ path: 'files', message: `${f} is not named by the manifest` });
    if (errors.length) throw badRequest(`invalid payload: ${errors.length} problem(s)`, errors);

    const described = [...files.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([file, data]) => ({ file, size: data.length, sha256: sha256(data) }));
    const content = sha256(JSON.stringify({ manifest, files: described }));
    const existing = await this.payloads.findContent(content, caller.owner);
    if (existing) return { created: false, payload: existing };

    const disk = await payloadDisk(path.join(this.config.dataDir, 'payload-disks'), manifest, files);
    const { image } = await this.images.upload(
      fs.createReadStream(disk.path),
      { name: `payload-${manifest.name}`, version: manifest.version, arch: manifest.arch, tags: ['payload'] },
      fs.statSync(disk.path).size,
      caller,
    );
    const payload: PayloadInfo = {
      id: randomUUID(),
      name: manifest.name,
      version: manifest.version,
      sha256: content,
      image: image.sha256,
      owner: caller.owner,
      createdAt: new Date().toISOString(),
      manifest,
      files: described,
    };
    await this.payloads.insert(payload);
    return { created: true, payload };
  }

  async get(id: string, caller: Caller): Promise<PayloadInfo> {
    const p = await this.payloads.get(id, caller);
    if (!p) throw notFound(`no payload ${id}`);
    return p;
  }

  list(caller: Caller, page: { limit: number; offset: number }): Promise<PayloadInfo[]> {
    return this.payloads.list(caller, page);
  }

  /** The payload suite `name` of a matrix means, for this caller. */
  byName(name: string, caller: Caller): Promise<PayloadInfo | undefined> {
    return this.payloads.byName(name, caller);
  }
}
