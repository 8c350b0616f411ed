import { open, type FileHandle } from 'node:fs/promises';
import { ImageFormatError } from './errors';

/** Random access to the bytes of a disk image, whatever container holds them. */
export interface BlockSource {
  /** Size of the disk as the VM sees it, in bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset`; an ImageFormatError when the range passes the end. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Largest single read a parser may ask for: a malformed header must never make us allocate more. */
export const MAX_READ = 64 * 1024 * 1024;

export function checkRange(size: number, offset: number, length: number, what = 'image'): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
    throw new ImageFormatError(`invalid read of ${length} bytes at ${offset} in the ${what}`);
  if (length > MAX_READ) throw new ImageFormatError(`refusing a ${length}-byte read (limit ${MAX_READ})`);
  if (offset + length > size)
    throw new ImageFormatError(
      `the ${what} is truncated: ${length} bytes at offset ${offset} pass its end (${size} bytes)`,
    );
}

/** Reads a file in full-range positional reads; a short read (file shrank) is an I/O fault. */
export async function readExactly(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${offset + done}`);
    done += bytesRead;
  }
  return buf;
}

export class RawSource implements BlockSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly onClose: () => Promise<void>,
  ) {}

  static async open(path: string, onClose: () => Promise<void> = async () => {}): Promise<RawSource> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ImageFormatError(`${path} is not a regular file`);
      return new RawSource(fh, st.size, onClose);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.size, offset, length);
    return readExactly(this.fh, offset, length);
  }

  async close(): Promise<void> {
    await this.fh.close();
    await this.onClose();
  }
}

/** A disk held in memory: tests and small slices. */
export class BufferSource implements BlockSource {
  constructor(private readonly data: Buffer) {}
  get size(): number {
    return this.data.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.size, offset, length);
    return Buffer.from(this.data.subarray(offset, offset + length));
  }
  async close(): Promise<void> {}
}

/** A window of another source (a partition): reads past the window's end are truncation. */
export class SliceSource implements BlockSource {
  constructor(
    private readonly inner: BlockSource,
    private readonly start: number,
    readonly size: number,
  ) {}
  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.size, offset, length, 'partition');
    return this.inner.read(this.start + offset, length);
  }
  async close(): Promise<void> {}
}
