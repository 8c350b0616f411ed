import { inflateRawSync, constants as zc } from 'node:zlib';
import { ImageFormatError } from './errors';
import { QCOW2_MAGIC } from './sniff';
import { checkRange, type BlockSource } from './source';

const INCOMPAT_DIRTY = 1n << 0n;
const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const EXT_DATA_FILE = 0x44415441;
const L2_COMPRESSED = 1n << 62n;
const L2_ZERO = 1n;
const OFFSET_MASK = 0x00fffffffffffe00n;

/** A table's place in the file, for the overlap checks. */
interface Extent {
  what: string;
  offset: number;
  length: number;
}

export interface Qcow2Header {
  version: number;
  clusterBits: number;
  virtualSize: number;
  l1Size: number;
  l1TableOffset: number;
  headerLength: number;
  refcountOrder: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  snapshotCount: number;
  incompatibleFeatures: string;
  /** Header cluster, refcount table, L1 table and snapshot table: no data cluster may lie there. */
  metadata: Extent[];
}

// QEMU's own bounds (block/qcow2.h), so that what `qemu-img` refuses to open is refused here too.
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_L1_BYTES = 32 * 1024 * 1024;
const SNAPSHOT_HEADER_BYTES = 40;
const MAX_SNAPSHOTS = 65536;
const V3_HEADER_BYTES = 104;

/**
 * A table of `entries` × `entryBytes` at `offset`: within QEMU's size limit, cluster aligned and
 * inside the file (QEMU reads zeros past the end; a portable image has no reason to end early).
 */
function table(
  what: string,
  offset: number,
  entries: number,
  entryBytes: number,
  max: number,
  cs: number,
  fileSize: number,
): Extent {
  if (entries > max / entryBytes)
    throw new ImageFormatError(`qcow2 ${what} is too large (${entries} entries)`);
  const length = entries * entryBytes;
  if (!Number.isSafeInteger(offset) || offset % cs !== 0)
    throw new ImageFormatError(`qcow2 ${what} offset ${offset} is not cluster aligned`);
  if (offset + length > fileSize)
    throw new ImageFormatError(
      `qcow2 ${what} at ${offset} (${length} bytes) lies outside the file (${fileSize} bytes)`,
    );
  return { what, offset, length };
}

/** The first pair of extents that share a byte, or null. */
function firstOverlap(extents: readonly Extent[]): [Extent, Extent] | null {
  const used = extents.filter((e) => e.length > 0);
  for (let i = 0; i < used.length; i++)
    for (let j = i + 1; j < used.length; j++) {
      const a = used[i];
      const b = used[j];
      if (a.offset < b.offset + b.length && b.offset < a.offset + a.length) return [a, b];
    }
  return null;
}

/** Parses and vets the header as QEMU's qcow2_do_open does; throws ImageFormatError naming what is refused. */
export function parseQcow2Header(buf: Buffer, fileSize: number): Qcow2Header {
  if (buf.length < 72 || buf.readUInt32BE(0) !== QCOW2_MAGIC) throw new ImageFormatError('not a qcow2 image');
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new ImageFormatError(`qcow2 version ${version} is not supported`);
  const clusterBits = buf.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21)
    throw new ImageFormatError(`qcow2 cluster_bits ${clusterBits} is outside 9..21`);
  const clusterSize = 2 ** clusterBits;
  let incompat = 0n;
  let refcountOrder = 4;
  let headerLength = 72;
  if (version === 3) {
    if (buf.length < V3_HEADER_BYTES) throw new ImageFormatError('qcow2 v3 header is truncated');
    incompat = buf.readBigUInt64BE(72);
    refcountOrder = buf.readUInt32BE(96);
    headerLength = buf.readUInt32BE(100);
    if (headerLength < V3_HEADER_BYTES)
      throw new ImageFormatError(`qcow2 header_length ${headerLength} is below ${V3_HEADER_BYTES}`);
  }
  if (headerLength > clusterSize)
    throw new ImageFormatError(`qcow2 header_length ${headerLength} exceeds the cluster size ${clusterSize}`);
  const backingOffset = buf.readBigUInt64BE(8);
  if (backingOffset !== 0n)
    throw new ImageFormatError('qcow2 image has a backing file: a portable image must be self-contained');
  if (incompat & INCOMPAT_DATA_FILE)
    throw new ImageFormatError(
      'qcow2 image uses an external data file: a portable image must be self-contained',
    );
  if (incompat & INCOMPAT_CORRUPT) throw new ImageFormatError('qcow2 image is marked corrupt');
  if (incompat & INCOMPAT_EXTENDED_L2)
    throw new ImageFormatError(
      'qcow2 image uses extended L2 entries (subclusters), which the farm does not read',
    );
  if (incompat & ~(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION))
    throw new ImageFormatError(`qcow2 image has unknown incompatible features 0x${incompat.toString(16)}`);
  // The compression type byte exists when the header reaches it; zlib must not carry the feature bit.
  const compressionType =
    headerLength > V3_HEADER_BYTES && buf.length > V3_HEADER_BYTES ? buf[V3_HEADER_BYTES] : 0;
  if (compressionType === 0 && incompat & INCOMPAT_COMPRESSION)
    throw new ImageFormatError('qcow2 compression type is zlib but the compression type feature bit is set');
  if (compressionType !== 0 && !(incompat & INCOMPAT_COMPRESSION))
    throw new ImageFormatError(`qcow2 compression type ${compressionType} lacks its feature bit`);
  if (compressionType !== 0)
    throw new ImageFormatError(
      `qcow2 image uses compression type ${compressionType}, not zlib, which the farm does not read`,
    );
  if (refcountOrder > 6) throw new ImageFormatError(`qcow2 refcount_order ${refcountOrder} is above 6`);
  if (buf.readUInt32BE(32) !== 0) throw new ImageFormatError('qcow2 image is encrypted');
  const rawSize = buf.readBigUInt64BE(24);
  if (rawSize > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ImageFormatError(`qcow2 virtual size ${rawSize} is too big`);
  const virtualSize = Number(rawSize);
  const l1Size = buf.readUInt32BE(36);
  const l1TableOffset = Number(buf.readBigUInt64BE(40));
  const refcountTableOffset = Number(buf.readBigUInt64BE(48));
  const refcountTableClusters = buf.readUInt32BE(56);
  const snapshotCount = buf.readUInt32BE(60);
  const snapshotsOffset = Number(buf.readBigUInt64BE(64));
  if (refcountTableClusters === 0) throw new ImageFormatError('qcow2 image has no reference count table');
  const header: Extent = { what: 'header', offset: 0, length: clusterSize };
  const refcounts = table(
    'reference count table',
    refcountTableOffset,
    refcountTableClusters,
    clusterSize,
    MAX_REFTABLE_BYTES,
    clusterSize,
    fileSize,
  );
  const snapshots =
    snapshotCount === 0
      ? { what: 'snapshot table', offset: 0, length: 0 }
      : table(
          'snapshot table',
          snapshotsOffset,
          snapshotCount,
          SNAPSHOT_HEADER_BYTES,
          SNAPSHOT_HEADER_BYTES * MAX_SNAPSHOTS,
          clusterSize,
          fileSize,
        );
  const l1 = table('L1 table', l1TableOffset, l1Size, 8, MAX_L1_BYTES, clusterSize, fileSize);
  const needL1 = l1Needed(virtualSize, clusterBits);
  if (needL1 > 0x7fffffff) throw new ImageFormatError(`qcow2 virtual size ${virtualSize} is too big`);
  if (l1Size < needL1) throw new ImageFormatError(`qcow2 L1 table has ${l1Size} entries, ${needL1} needed`);
  const metadata = [header, refcounts, l1, snapshots];
  const overlap = firstOverlap(metadata);
  if (overlap)
    throw new ImageFormatError(
      `qcow2 ${overlap[0].what} and ${overlap[1].what} overlap (at ${overlap[1].offset})`,
    );
  return {
    version,
    clusterBits,
    virtualSize,
    l1Size,
    l1TableOffset,
    headerLength,
    refcountOrder,
    refcountTableOffset,
    refcountTableClusters,
    snapshotCount,
    incompatibleFeatures: `0x${incompat.toString(16)}`,
    metadata,
  };
}

/** L1 entries needed to map `virtualSize` bytes (each maps one L2 table's worth of clusters). */
function l1Needed(virtualSize: number, clusterBits: number): number {
  return Math.ceil(virtualSize / 2 ** (2 * clusterBits - 3));
}

/**
 * Walks the header extensions (between the header and the end of the first cluster): an external
 * data file name is refused, and an extension that runs past the area is corruption.
 */
function checkExtensions(buf: Buffer, h: Qcow2Header): void {
  const end = Math.min(buf.length, 2 ** h.clusterBits);
  let p = h.headerLength;
  while (p < end) {
    if (p + 8 > end) throw new ImageFormatError('qcow2 header extension is truncated');
    const type = buf.readUInt32BE(p);
    const len = buf.readUInt32BE(p + 4);
    p += 8;
    if (len > end - p)
      throw new ImageFormatError(`qcow2 header extension 0x${type.toString(16)} is too large`);
    if (type === 0) return;
    if (type === EXT_DATA_FILE)
      throw new ImageFormatError(
        'qcow2 image names an external data file: a portable image must be self-contained',
      );
    p += Math.ceil(len / 8) * 8;
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
    const header = parseQcow2Header(await file.read(0, Math.min(file.size, 4096)), file.size);
    // Extensions may fill the whole first cluster (up to 2 MiB).
    checkExtensions(await file.read(0, Math.min(file.size, 2 ** header.clusterBits)), header);
    const l1 = await file.read(header.l1TableOffset, l1Needed(header.virtualSize, header.clusterBits) * 8);
    const source = new Qcow2Source(file, header, l1);
    for (let i = 0; i < l1.length; i += 8) {
      const l2 = Number(l1.readBigUInt64BE(i) & OFFSET_MASK);
      if (l2 !== 0) source.checkHostCluster(l2, 'L2 table');
    }
    return source;
  }

  /** A cluster the tables point at: aligned, and not on the header, L1, refcount or snapshot table. */
  private checkHostCluster(offset: number, what: string): void {
    if (offset % this.clusterSize !== 0)
      throw new ImageFormatError(`qcow2 ${what} offset ${offset} is not cluster aligned`);
    const clash = this.header.metadata.find(
      (m) => offset < m.offset + m.length && m.offset < offset + this.clusterSize,
    );
    if (clash) throw new ImageFormatError(`qcow2 ${what} at ${offset} overlaps the ${clash.what}`);
  }

  private async l2(offset: number): Promise<Buffer> {
    let table = this.l2Cache.get(offset);
    if (!table) {
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
    this.checkHostCluster(host, 'data cluster');
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
    const clash = this.header.metadata.find(
      (m) => offset < m.offset + m.length && m.offset < offset + length,
    );
    if (clash) throw new ImageFormatError(`qcow2 compressed cluster at ${offset} overlaps the ${clash.what}`);
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
