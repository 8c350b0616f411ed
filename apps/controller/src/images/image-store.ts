import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { SNIFF_BYTES, SparseFileWriter, sniffContainer, type Container } from '@vmfarm/image';
import { ApiHttpError } from '../errors';

export interface Ingested {
  tempPath: string;
  sha256: string;
  /** Decompressed bytes. */
  size: number;
  container: Container;
  /** The first bytes of the decompressed image, for format detection. */
  head: Buffer;
}

const HEAD_BYTES = 512;

/** What an upload over its limit answers (the limit, or the tenant's quota). */
export type TooLarge = () => ApiHttpError;

/** Counts bytes against the limit, hashes them and keeps the first HEAD_BYTES. */
class Meter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  head = Buffer.alloc(0);
  constructor(
    private readonly limit: number,
    private readonly tooLarge: TooLarge,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) return done(this.tooLarge());
    if (this.head.length < HEAD_BYTES)
      this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** Fails the stream once more than `limit` bytes went through (compressed bytes on the wire). */
function limiter(limit: number, tooLarge: TooLarge): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) return done(tooLarge());
      done(null, chunk);
    },
  });
}

/** Reads until `n` bytes (or the end) are in hand without consuming the rest. */
async function peek(source: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const chunk = source.read() as Buffer | null;
    if (chunk) {
      chunks.push(chunk);
      got += chunk.length;
      continue;
    }
    if (source.readableEnded) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const cleanup = () => {
        source.off('readable', onReadable);
        source.off('end', onEnd);
        source.off('error', onError);
      };
      const onReadable = () => (cleanup(), resolve(false));
      const onEnd = () => (cleanup(), resolve(true));
      const onError = (err: Error) => (cleanup(), reject(err));
      source.on('readable', onReadable);
      source.on('end', onEnd);
      source.on('error', onError);
    });
    if (ended) break;
  }
  const all = Buffer.concat(chunks);
  if (all.length > 0) source.unshift(all);
  return all;
}

/** xz is Debian's `xz -dc` as a child process: a Transform-shaped pair of pipes. */
function xzDecompress(input: Readable, output: Transform): Promise<void> {
  const child = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new ApiHttpError(500, `cannot run xz: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (signal) reject(new Error(`xz stopped by ${signal}`));
      else
        reject(
          new ApiHttpError(400, `not valid xz data: ${stderr.trim().split('\n')[0] || `xz exit ${code}`}`),
        );
    });
  });
  const feed = pipeline(input, child.stdin).catch((err: NodeJS.ErrnoException) => {
    // xz closes its stdin when the data is corrupt: its exit status says why.
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
  });
  const drain = pipeline(child.stdout, output);
  return Promise.all([feed, drain, exited]).then(
    () => undefined,
    (err) => {
      child.kill('SIGKILL');
      throw err;
    },
  );
}

/**
 * Waits for every promise; on the first failure tears the streams down (so the rest settle too) and
 * throws the most telling error: the client's mistake (ApiHttpError) before its consequences.
 */
async function settleAll(work: Promise<unknown>[], teardown: () => void): Promise<void> {
  let tornDown = false;
  const results = await Promise.allSettled(
    work.map((p) =>
      p.catch((err: unknown) => {
        if (!tornDown) {
          tornDown = true;
          teardown();
        }
        throw err;
      }),
    ),
  );
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length > 0) throw errors.find((e) => e instanceof ApiHttpError) ?? errors[0];
}

/**
 * Content-addressed image files under `<data>/images/<sha[0:2]>/<sha>`. Uploads stream to a temp
 * file in the same file system while being hashed, then are renamed into place.
 */
export class ImageStore {
  private readonly root: string;
  private readonly tmp: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'images');
    this.tmp = path.join(dataDir, 'tmp');
  }

  pathOf(sha256: string): string {
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  exists(sha256: string): boolean {
    return fs.existsSync(this.pathOf(sha256));
  }

  open(sha256: string): fs.ReadStream {
    return fs.createReadStream(this.pathOf(sha256));
  }

  /** Streams `body` (raw, gzip or xz) to a temp file; throws ApiHttpError 400/413 and leaves nothing behind. */
  async ingest(body: Readable, limit: number, tooLarge: TooLarge): Promise<Ingested> {
    await fs.promises.mkdir(this.tmp, { recursive: true });
    const tempPath = path.join(this.tmp, `upload-${randomUUID()}`);
    // The request goes through a PassThrough so that failing early never destroys the socket: the
    // HTTP server drains what is left of the request after the error answer.
    const source = new PassThrough();
    const onAbort = () => source.destroy(new Error('upload aborted by the client'));
    body.on('error', (err) => source.destroy(err));
    body.on('aborted', onAbort);
    body.pipe(source);
    const meter = new Meter(limit, tooLarge);
    try {
      const head = await peek(source, SNIFF_BYTES);
      const container = sniffContainer(head);
      // Sparse: a small xz of zeros must not become gigabytes of allocated disk.
      const out = new SparseFileWriter(tempPath);
      const streams: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [source, meter, out];
      let work: Promise<unknown>[];
      if (container === 'xz') {
        const wire = limiter(limit, tooLarge);
        streams.push(wire);
        work = [pipeline(source, wire), xzDecompress(wire, meter), pipeline(meter, out)];
      } else if (container === 'gz') {
        const gunzip = zlib.createGunzip();
        work = [
          pipeline(source, limiter(limit, tooLarge), gunzip, meter, out).catch(
            (err: NodeJS.ErrnoException) => {
              if (err.code?.startsWith('Z_'))
                throw new ApiHttpError(400, `not valid gzip data: ${err.message}`);
              throw err;
            },
          ),
        ];
      } else {
        work = [pipeline(source, meter, out)];
      }
      await settleAll(work, () => streams.forEach((s) => (s as Readable).destroy()));
      return { tempPath, sha256: meter.hash.digest('hex'), size: meter.size, container, head: meter.head };
    } catch (err) {
      body.unpipe(source);
      await fs.promises.rm(tempPath, { force: true });
      throw err;
    } finally {
      body.off('aborted', onAbort);
    }
  }

  /** Moves a temp file to its content address; when that content is already stored, drops the copy. */
  async commit(tempPath: string, sha256: string): Promise<void> {
    const dest = this.pathOf(sha256);
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    if (fs.existsSync(dest)) await fs.promises.rm(tempPath, { force: true });
    else await fs.promises.rename(tempPath, dest);
  }

  async discard(tempPath: string): Promise<void> {
    await fs.promises.rm(tempPath, { force: true });
  }
}
