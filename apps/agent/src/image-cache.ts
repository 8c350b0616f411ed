import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ControllerClient } from './client';

/** Images by sha256 under `<dir>/<sha[0:2]>/<sha>`, downloaded from the controller once and verified. */
export class ImageCache {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    readonly dir: string,
    private readonly client: ControllerClient,
  ) {}

  pathOf(sha256: string): string {
    return path.join(this.dir, sha256.slice(0, 2), sha256);
  }

  /** The local path of the image; a cache hit skips the download. */
  fetch(sha256: string): Promise<string> {
    const file = this.pathOf(sha256);
    if (fs.existsSync(file)) return Promise.resolve(file);
    let pending = this.inFlight.get(sha256);
    if (!pending) {
      pending = this.download(sha256, file).finally(() => this.inFlight.delete(sha256));
      this.inFlight.set(sha256, pending);
    }
    return pending;
  }

  private async download(sha256: string, file: string): Promise<string> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const temp = path.join(path.dirname(file), `.${sha256}.${randomUUID()}.part`);
    const hash = createHash('sha256');
    try {
      const res = await this.client.imageContent(sha256);
      await pipeline(
        Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        }),
        fs.createWriteStream(temp),
      );
      const got = hash.digest('hex');
      if (got !== sha256) throw new Error(`image download corrupt: expected sha256 ${sha256}, got ${got}`);
      await fs.promises.rename(temp, file);
      return file;
    } finally {
      await fs.promises.rm(temp, { force: true });
    }
  }
}
