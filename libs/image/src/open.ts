import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { HostError, ImageFormatError } from './errors';
import { Qcow2Source } from './qcow2';
import { sniffContainer, sniffFormat, SNIFF_BYTES, type Container } from './sniff';
import { RawSource, type BlockSource } from './source';

export interface OpenedImage {
  /** The disk as the guest sees it. */
  disk: BlockSource;
  format: 'raw' | 'qcow2';
  /** How the input file was compressed. */
  uploadedAs: Container;
  /** Path and size of the decompressed image file (the input itself when not compressed). */
  filePath: string;
  fileSize: number;
  /** Removes any temporary file; always call it. */
  close(): Promise<void>;
}

/** Adapter over Debian's xz: the decompressed bytes of `path` on stdout. */
export function xzDecompressStream(path: string, xzBinary = 'xz'): { stream: Readable; done: Promise<void> } {
  const child = spawn(xzBinary, ['-dc', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 2000) stderr += d.toString();
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new HostError(`cannot decompress xz: '${xzBinary}' not found (install xz-utils)`)
          : new HostError(`cannot run ${xzBinary}: ${err.message}`),
      ),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (signal) reject(new HostError(`xz was killed by ${signal}`));
      else
        reject(
          new ImageFormatError(`not valid xz data: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`),
        );
    });
  });
  return { stream: child.stdout, done };
}

const BLOCK = 64 * 1024;

/**
 * A write stream into a new sparse file (created 0600, never over an existing one): all-zero
 * 64 KiB blocks are skipped, so gigabytes of zeros take no disk space. `bytes` is what went through.
 */
export class SparseFileWriter extends Writable {
  bytes = 0;
  private fh: FileHandle | null = null;
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(private readonly path: string) {
    super();
  }

  override _construct(done: (err?: Error | null) => void): void {
    open(this.path, 'wx', 0o600).then(
      (fh) => {
        this.fh = fh;
        done();
      },
      (err: Error) => done(err),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    if (this.pendingLen < 16 * BLOCK) return done();
    this.flush(false).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    // Closed here, so that the file is complete and closed once the stream has finished.
    this.flush(true)
      .then(() => (this.fh as FileHandle).truncate(this.bytes))
      .then(() => {
        const fh = this.fh as FileHandle;
        this.fh = null;
        return fh.close();
      })
      .then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = null;
    if (!fh) return done(err);
    fh.close().then(
      () => done(err),
      () => done(err),
    );
  }

  /** Writes whole blocks (all when `all`), skipping zero ones; a partial block waits for more. */
  private async flush(all: boolean): Promise<void> {
    if (this.pendingLen === 0) return;
    const fh = this.fh as FileHandle;
    const joined = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLen);
    const whole = all ? joined.length : Math.floor(joined.length / BLOCK) * BLOCK;
    for (let off = 0; off < whole; off += BLOCK) {
      const block = joined.subarray(off, Math.min(off + BLOCK, whole));
      if (!isZero(block)) await fh.write(block, 0, block.length, this.bytes);
      this.bytes += block.length;
    }
    const rest = joined.subarray(whole);
    this.pending = rest.length ? [Buffer.from(rest)] : [];
    this.pendingLen = rest.length;
  }
}

/** Writes a stream into a new sparse file (see SparseFileWriter); returns the bytes it held. */
export async function writeSparse(stream: Readable, path: string): Promise<number> {
  const out = new SparseFileWriter(path);
  await pipeline(stream, out);
  return out.bytes;
}

function isZero(b: Buffer): boolean {
  // Compare 8 bytes at a time where aligned; the tail byte by byte.
  const words = Math.floor(b.length / 8);
  for (let i = 0; i < words; i++) if (b.readBigUInt64LE(i * 8) !== 0n) return false;
  for (let i = words * 8; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface Decompressed {
  /** The decompressed file (the input itself when it was not compressed). */
  filePath: string;
  uploadedAs: Container;
  /** Removes the temporary file, if any. */
  cleanup(): Promise<void>;
}

/** gz/xz input (detected by magic) is decompressed to a sparse temporary file; other input is used as is. */
export async function decompressToFile(path: string, tempDir = tmpdir()): Promise<Decompressed> {
  const compression = sniffContainer(await readHead(path));
  if (compression === 'raw') return { filePath: path, uploadedAs: 'raw', cleanup: async () => {} };
  const dir = await mkdtemp(join(tempDir, 'vmfarm-image-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const filePath = join(dir, 'image');
  try {
    if (compression === 'gz') {
      const input = createReadStream(path).pipe(createGunzip());
      await writeSparse(input, filePath).catch((err: NodeJS.ErrnoException) => {
        throw err.code?.startsWith('Z_') ? new ImageFormatError(`not valid gzip data: ${err.message}`) : err;
      });
    } else {
      const { stream, done } = xzDecompressStream(path);
      // Either may fail first; the tool's own verdict explains a broken stream best.
      await Promise.all([done, writeSparse(stream, filePath)]);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { filePath, uploadedAs: compression, cleanup };
}

/** Opens a decompressed image file: qcow2 (by magic) through its tables, anything else as a raw disk. */
export async function openDecompressed(d: Decompressed): Promise<OpenedImage> {
  let file: RawSource;
  try {
    file = await RawSource.open(d.filePath, d.cleanup);
  } catch (err) {
    await d.cleanup();
    throw err;
  }
  const isQcow2 = sniffFormat(await file.read(0, Math.min(file.size, SNIFF_BYTES))) === 'qcow2';
  let disk: BlockSource = file;
  if (isQcow2) {
    try {
      disk = await Qcow2Source.open(file);
    } catch (err) {
      await file.close();
      throw err instanceof ImageFormatError ? new ImageFormatError(err.message, 'qcow2') : err;
    }
  }
  return {
    disk,
    format: isQcow2 ? 'qcow2' : 'raw',
    uploadedAs: d.uploadedAs,
    filePath: d.filePath,
    fileSize: file.size,
    close: () => disk.close(),
  };
}

/** Opens an image file, whether gz/xz compressed, qcow2 or raw. */
export async function openImage(path: string, tempDir = tmpdir()): Promise<OpenedImage> {
  return openDecompressed(await decompressToFile(path, tempDir));
}
