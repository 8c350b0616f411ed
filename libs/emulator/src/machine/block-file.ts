/**
 * A raw disk image file as a `BlockBackend`, never written: the guest's writes land in an
 * in-memory copy-on-write overlay of 64 KiB chunks that lives as long as the machine (so a reset
 * or power cycle keeps them, a new machine starts from the image again).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { BlockBackend } from '../devices/device';

const SECTOR = 512;
const CHUNK = 64 * 1024;

export class RawFileBackend implements BlockBackend {
  readonly sectors: number;
  readonly readOnly = false;
  private readonly fd: number;
  private readonly size: number;
  private readonly overlay = new Map<number, Uint8Array>();

  constructor(
    path: string,
    readonly serial = 'vmfarm-disk0',
  ) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
    this.sectors = Math.floor(this.size / SECTOR);
  }

  private chunk(n: number): Uint8Array | undefined {
    return this.overlay.get(n);
  }

  private readImage(pos: number, out: Uint8Array): void {
    let done = 0;
    while (done < out.length && pos + done < this.size) {
      const got = readSync(
        this.fd,
        out,
        done,
        Math.min(out.length - done, this.size - pos - done),
        pos + done,
      );
      if (got === 0) break;
      done += got;
    }
  }

  read(sector: number, count: number): Uint8Array {
    const out = new Uint8Array(count * SECTOR);
    let pos = sector * SECTOR;
    let o = 0;
    while (o < out.length) {
      const n = Math.floor(pos / CHUNK);
      const within = pos % CHUNK;
      const len = Math.min(CHUNK - within, out.length - o);
      const c = this.chunk(n);
      if (c !== undefined) out.set(c.subarray(within, within + len), o);
      else this.readImage(pos, out.subarray(o, o + len));
      o += len;
      pos += len;
    }
    return out;
  }

  write(sector: number, data: Uint8Array): void {
    let pos = sector * SECTOR;
    let o = 0;
    while (o < data.length) {
      const n = Math.floor(pos / CHUNK);
      const within = pos % CHUNK;
      const len = Math.min(CHUNK - within, data.length - o);
      let c = this.chunk(n);
      if (c === undefined) {
        c = new Uint8Array(CHUNK);
        this.readImage(n * CHUNK, c);
        this.overlay.set(n, c);
      }
      c.set(data.subarray(o, o + len), within);
      o += len;
      pos += len;
    }
  }

  flush(): void {
    // The overlay is memory: nothing to make durable.
  }

  close(): void {
    closeSync(this.fd);
  }
}
