import { inflateRawSync, constants as zc } from 'node:zlib';
import { ImageFormatError } from './errors';
import { checkRange, type BlockSource } from './source';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"

const INCOMPAT_DIRTY = 1n << 0n;
const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const EXT_DATA_FILE = 0x44415441;
const L2_COMPRESSED = 1n << 62n;
const L2_ZERO = 1n;
const OFFSET_MASK = 0x00fffffffffffe00n;

export interface Qcow2Header {
  version: number;
  clusterBits: number;
  virtualSize: number;
  l1Size: number;
  l1TableOffset: number;
  incompatibleFeatures: string;
}

/** Parses and vets the header; throws ImageFormatError naming what the farm refuses. */
export function parseQcow2Header(buf: Buffer, fileSize: number): Qcow2Header {
  if (buf.length < 72 || buf.readUInt32BE(0) !== QCOW2_MAGIC) throw new ImageFormatError('not a qcow2 image');
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new ImageFormatError(`qcow2 version ${version} is not supported`);
  const backingOffset = buf.readBigUInt64BE(8);
  if (backingOffset !== 0n)
    throw new ImageFormatError('qcow2 image has a backing file: a portable image must be self-contained');
  const clusterBits = buf.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21)
    throw new ImageFormatError(`qcow2 cluster_bits ${clusterBits} is outside 9..21`);
  const virtualSize = Number(buf.readBigUInt64BE(24));
  if (buf.readUInt32BE(32) !== 0) throw new ImageFormatError('qcow2 image is encrypted');
  const l1Size = buf.readUInt32BE(36);
  const l1TableOffset = Number(buf.readBigUInt64BE(40));
  let incompat = 0n;
  if (version === 3) {
    if (buf.length < 104) throw new ImageFormatError('qcow2 v3 header is truncated');
    incompat = buf.readBigUInt64BE(72);
    if (incompat & INCOMPAT_DATA_FILE)
      throw new ImageFormatError(
        'qcow2 image uses an external data file: a portable image must be self-contained',
      );
    if (incompat & INCOMPAT_CORRUPT) throw new ImageFormatError('qcow2 image is marked corrupt');
    if (incompat & INCOMPAT_COMPRESSION && buf.readUInt32BE(100) > 104 && buf[104] !== 0)
      throw new ImageFormatError('qcow2 image uses a compression type other than zlib');
    if (incompat & INCOMPAT_EXTENDED_L2)
      throw new ImageFormatError(
        'qcow2 image uses extended L2 entries (subclusters), which the farm does not read',
      );
    if (incompat & ~(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION))
      throw new ImageFormatError(`qcow2 image has unknown incompatible features 0x${incompat.toString(16)}`);
  }
  const clusterSize = 2 ** clusterBits;
  const l2Entries = clusterSize / 8;
  const needL1 = Math.ceil(virtualSize / clusterSize / l2Entries);
  if (!Number.isSafeInteger(virtualSize) || virtualSize < 0)
    throw new ImageFormatError(`qcow2 virtual size ${virtualSize} is invalid`);
  if (l1Size < needL1) throw new ImageFormatError(`qcow2 L1 table has ${l1Size} entries, ${needL1} needed`);
  if (l1TableOffset % clusterSize !== 0 || l1TableOffset + needL1 * 8 > fileSize)
    throw new ImageFormatError(`qcow2 L1 table at ${l1TableOffset} lies outside the file`);
  return {
    version,
    clusterBits,
    virtualSize,
    l1Size,
    l1TableOffset,
    incompatibleFeatures: `0x${incompat.toString(16)}`,
  };
}

/** Checks header extensions for an external data file name (also refused). */
function checkExtensions(buf: Buffer, version: number): void {
  if (version !== 3) return;
  let p = buf.readUInt32BE(100); // header_length
  while (p + 8 <= buf.length) {
    const type = buf.readUInt32BE(p);
    const len = buf.readUInt32BE(p + 4);
    if (type === 0) return;
    if (type === EXT_DATA_FILE)
      throw new ImageFormatError(
        'qcow2 image names an external data file: a portable image must be self-contained',
      );
    p += 8 + Math.ceil(len / 8) * 8;
  }
}

/** The guest-visible disk of a qcow2 file; only L1/L2 tables touched by reads are loaded. */
export class Qcow2Source implements BlockSource {
  readonly size: number;
  private readonly clusterSize: number;
  private readonly l2Cache = new Map<number, Buffer>();

  private constructor(
    private readonly file: BlockSource,
    readonly header: Qcow2Header,
    private readonly l1: Buffer,
  ) {
    this.size = header.virtualSize;
    this.clusterSize = 2 ** header.clusterBits;
  }

  static async open(file: BlockSource): Promise<Qcow2Source> {
    const head = await file.read(0, Math.min(file.size, 4096));
    const header = parseQcow2Header(head, file.size);
    checkExtensions(head, header.version);
    const needL1 = Math.ceil(header.virtualSize / 2 ** header.clusterBits / (2 ** header.clusterBits / 8));
    const l1 = await file.read(header.l1TableOffset, needL1 * 8);
    return new Qcow2Source(file, header, l1);
  }

  private async l2(offset: number): Promise<Buffer> {
    let table = this.l2Cache.get(offset);
    if (!table) {
      if (offset % this.clusterSize !== 0)
        throw new ImageFormatError(`qcow2 L2 table offset ${offset} is not cluster aligned`);
      table = await this.file.read(offset, this.clusterSize);
      // A handful of tables covers the metadata a static check touches.
      if (this.l2Cache.size >= 64) this.l2Cache.delete(this.l2Cache.keys().next().value as number);
      this.l2Cache.set(offset, table);
    }
    return table;
  }

  /** The guest cluster `index` (cluster-sized buffer). */
  private async cluster(index: number): Promise<Buffer> {
    const l2Entries = this.clusterSize / 8;
    const l1Index = Math.floor(index / l2Entries);
    const l2Offset = Number(this.l1.readBigUInt64BE(l1Index * 8) & OFFSET_MASK);
    if (l2Offset === 0) return Buffer.alloc(this.clusterSize);
    const entry = (await this.l2(l2Offset)).readBigUInt64BE((index % l2Entries) * 8);
    if (entry & L2_COMPRESSED) return this.compressed(entry);
    if (this.header.version === 3 && entry & L2_ZERO) return Buffer.alloc(this.clusterSize);
    const host = Number(entry & OFFSET_MASK);
    if (host === 0) return Buffer.alloc(this.clusterSize);
    if (host % this.clusterSize !== 0)
      throw new ImageFormatError(`qcow2 data cluster offset ${host} is not cluster aligned`);
    if (host + this.clusterSize > this.file.size) {
      // The last cluster of a file may be short; qemu reads the missing tail as zeros.
      if (host >= this.file.size)
        throw new ImageFormatError(`qcow2 data cluster at ${host} lies past the file end`);
      const out = Buffer.alloc(this.clusterSize);
      (await this.file.read(host, this.file.size - host)).copy(out);
      return out;
    }
    return this.file.read(host, this.clusterSize);
  }

  private async compressed(entry: bigint): Promise<Buffer> {
    const x = BigInt(62 - (this.header.clusterBits - 8));
    const offset = Number(entry & ((1n << x) - 1n));
    const sectors = Number((entry >> x) & ((1n << BigInt(this.header.clusterBits - 8)) - 1n)) + 1;
    const length = Math.min(sectors * 512 - (offset % 512), this.file.size - offset);
    if (length <= 0)
      throw new ImageFormatError(`qcow2 compressed cluster at ${offset} lies past the file end`);
    const data = await this.file.read(offset, length);
    let out: Buffer;
    try {
      out = inflateRawSync(data, { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: this.clusterSize });
    } catch (err) {
      throw new ImageFormatError(
        `qcow2 compressed cluster at ${offset} does not inflate: ${(err as Error).message}`,
      );
    }
    if (out.length === this.clusterSize) return out;
    const padded = Buffer.alloc(this.clusterSize);
    out.copy(padded);
    return padded;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.size, offset, length);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const index = Math.floor(pos / this.clusterSize);
      const within = pos % this.clusterSize;
      const n = Math.min(this.clusterSize - within, length - done);
      (await this.cluster(index)).copy(out, done, within, within + n);
      done += n;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
