import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HostError, ImageFormatError } from './errors';
import { QCOW2_MAGIC, Qcow2Source } from './qcow2';
import { RawSource, type BlockSource } from './source';

export type Compression = 'raw' | 'gz' | 'xz';

export interface OpenedImage {
  /** The disk as the guest sees it. */
  disk: BlockSource;
  format: 'raw' | 'qcow2';
  /** How the input file was compressed. */
  uploadedAs: Compression;
  /** Path and size of the decompressed image file (the input itself when not compressed). */
  filePath: string;
  fileSize: number;
  /** Removes any temporary file; always call it. */
  close(): Promise<void>;
}

const GZ_MAGIC = Buffer.from([0x1f, 0x8b]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

export function detectCompression(head: Buffer): Compression {
  if (head.subarray(0, 2).equals(GZ_MAGIC)) return 'gz';
  if (head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  return 'raw';
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
 * Writes a stream into a new sparse file: all-zero blocks are skipped, so gigabytes of zeros take
 * no disk space. Returns the number of bytes the stream held.
 */
export async function writeSparse(stream: Readable, path: string): Promise<number> {
  const fh = await open(path, 'wx', 0o600);
  try {
    let pos = 0;
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const flush = async (all: boolean) => {
      if (pendingLen === 0) return;
      const joined = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLen);
      const whole = all ? joined.length : Math.floor(joined.length / BLOCK) * BLOCK;
      for (let off = 0; off < whole; off += BLOCK) {
        const block = joined.subarray(off, Math.min(off + BLOCK, whole));
        if (!isZero(block)) await fh.write(block, 0, block.length, pos);
        pos += block.length;
      }
      const rest = joined.subarray(whole);
      pending = rest.length ? [Buffer.from(rest)] : [];
      pendingLen = rest.length;
    };
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingLen += chunk.length;
      if (pendingLen >= 16 * BLOCK) await flush(false);
    }
    await flush(true);
    await fh.truncate(pos);
    return pos;
  } finally {
    await fh.close();
  }
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
    const buf = Buffer.alloc(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface Decompressed {
  /** The decompressed file (the input itself when it was not compressed). */
  filePath: string;
  uploadedAs: Compression;
  /** Removes the temporary file, if any. */
  cleanup(): Promise<void>;
}

/** gz/xz input (detected by magic) is decompressed to a sparse temporary file; other input is used as is. */
export async function decompressToFile(path: string, tempDir = tmpdir()): Promise<Decompressed> {
  const compression = detectCompression(await readHead(path));
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
  const head = file.size >= 4 ? await file.read(0, 4) : Buffer.alloc(0);
  const isQcow2 = head.length === 4 && head.readUInt32BE(0) === QCOW2_MAGIC;
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
