import { ImageFormatError } from './errors';
import type { BlockSource } from './source';

export type FatType = 'FAT12' | 'FAT16' | 'FAT32';

export interface FatBootSector {
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatCount: number;
  rootEntryCount: number;
  totalSectors: number;
  fatSectors: number;
  mediaDescriptor: number;
  /** FAT32 only: first cluster of the root directory. */
  rootCluster: number | null;
  signature: string;
  oemName: string;
  fsTypeLabel: string;
}

export interface FatLayout {
  bpb: FatBootSector;
  /** By cluster count, the Microsoft rule: < 4085 FAT12, < 65525 FAT16, else FAT32. */
  type: FatType;
  clusterCount: number;
  clusterSize: number;
  fatOffset: number;
  rootDirOffset: number;
  rootDirBytes: number;
  dataOffset: number;
  /** Deviations that do not stop reading the file system. */
  problems: string[];
}

const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * Parses a boot sector. Throws ImageFormatError when the BPB is too broken to read anything;
 * returns softer deviations in `problems`.
 */
export function parseBootSector(b: Buffer, volumeBytes: number): FatLayout {
  if (b.length < 512) throw new ImageFormatError('the partition is too small for a FAT boot sector');
  const problems: string[] = [];
  const signature = `0x${b.readUInt16LE(510).toString(16).toUpperCase()}`;
  const bpb: FatBootSector = {
    bytesPerSector: b.readUInt16LE(11),
    sectorsPerCluster: b[13],
    reservedSectors: b.readUInt16LE(14),
    fatCount: b[16],
    rootEntryCount: b.readUInt16LE(17),
    totalSectors: b.readUInt16LE(19) || b.readUInt32LE(32),
    fatSectors: b.readUInt16LE(22) || b.readUInt32LE(36),
    mediaDescriptor: b[21],
    rootCluster: null,
    signature,
    oemName: b.toString('latin1', 3, 11).trimEnd(),
    fsTypeLabel: '',
  };
  const fatal: string[] = [];
  if (![512, 1024, 2048, 4096].includes(bpb.bytesPerSector))
    fatal.push(`bytes per sector ${bpb.bytesPerSector} is not 512, 1024, 2048 or 4096`);
  if (!pow2(bpb.sectorsPerCluster) || bpb.sectorsPerCluster > 128)
    fatal.push(`sectors per cluster ${bpb.sectorsPerCluster} is not a power of two up to 128`);
  if (bpb.reservedSectors === 0) fatal.push('reserved sector count is 0');
  if (bpb.fatCount === 0) fatal.push('FAT count is 0');
  if (bpb.fatSectors === 0) fatal.push('FAT size is 0 sectors');
  if (bpb.totalSectors === 0) fatal.push('total sector count is 0');
  if (fatal.length) throw new ImageFormatError(`no valid FAT boot sector: ${fatal.join('; ')}`);
  if (signature !== '0xAA55') problems.push(`boot sector signature is ${signature}, not 0x55AA`);
  if (!(b[0] === 0xeb && b[2] === 0x90) && b[0] !== 0xe9)
    problems.push(`boot sector jump instruction is 0x${b[0].toString(16)}, not 0xEB..0x90 or 0xE9`);
  if (bpb.mediaDescriptor !== 0xf0 && bpb.mediaDescriptor < 0xf8)
    problems.push(`media descriptor 0x${bpb.mediaDescriptor.toString(16)} is invalid`);
  const bps = bpb.bytesPerSector;
  const rootDirSectors = Math.ceil((bpb.rootEntryCount * 32) / bps);
  const metaSectors = bpb.reservedSectors + bpb.fatCount * bpb.fatSectors + rootDirSectors;
  if (metaSectors >= bpb.totalSectors)
    throw new ImageFormatError(
      `no valid FAT boot sector: reserved, FAT and root directory sectors (${metaSectors}) leave no data area in ${bpb.totalSectors} sectors`,
    );
  if (bpb.totalSectors * bps > volumeBytes)
    problems.push(
      `the file system claims ${bpb.totalSectors * bps} bytes but its partition has ${volumeBytes}`,
    );
  const clusterCount = Math.floor((bpb.totalSectors - metaSectors) / bpb.sectorsPerCluster);
  const type: FatType = clusterCount < 4085 ? 'FAT12' : clusterCount < 65525 ? 'FAT16' : 'FAT32';
  const entryBits = type === 'FAT12' ? 12 : type === 'FAT16' ? 16 : 32;
  if (Math.ceil(((clusterCount + 2) * entryBits) / 8) > bpb.fatSectors * bps)
    problems.push(`the FAT (${bpb.fatSectors} sectors) is too small for ${clusterCount} clusters`);
  if (type === 'FAT32') {
    bpb.rootCluster = b.readUInt32LE(44);
    bpb.fsTypeLabel = b.toString('latin1', 82, 90).trimEnd();
    if (bpb.rootEntryCount !== 0) problems.push(`FAT32 root entry count is ${bpb.rootEntryCount}, not 0`);
    if (b.readUInt16LE(22) !== 0) problems.push('FAT32 has a non-zero 16-bit FAT size');
    if (bpb.rootCluster < 2 || bpb.rootCluster > clusterCount + 1)
      throw new ImageFormatError(
        `FAT32 root directory cluster ${bpb.rootCluster} is outside 2..${clusterCount + 1}`,
      );
  } else {
    bpb.fsTypeLabel = b.toString('latin1', 54, 62).trimEnd();
    if (bpb.rootEntryCount === 0) throw new ImageFormatError(`${type} volume has no root directory entries`);
  }
  const fatOffset = bpb.reservedSectors * bps;
  const rootDirOffset = fatOffset + bpb.fatCount * bpb.fatSectors * bps;
  return {
    bpb,
    type,
    clusterCount,
    clusterSize: bpb.sectorsPerCluster * bps,
    fatOffset,
    rootDirOffset,
    rootDirBytes: rootDirSectors * bps,
    dataOffset: rootDirOffset + rootDirSectors * bps,
    problems,
  };
}

export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
const ATTR_LFN = 0x0f;

export interface FatEntry {
  /** The long name when a valid VFAT long name precedes the entry, else the 8.3 name. */
  name: string;
  shortName: string;
  longName: string | null;
  /** Full path from the root with backslashes, as found. */
  path: string;
  isDirectory: boolean;
  attributes: number;
  firstCluster: number;
  size: number;
}

/** VFAT checksum of the 11-byte short name, stored in each long-name slot. */
export function lfnChecksum(shortName11: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + shortName11[i]) & 0xff;
  return sum;
}

function shortNameText(raw: Buffer, ntFlags: number): string {
  const bytes = Buffer.from(raw);
  if (bytes[0] === 0x05) bytes[0] = 0xe5;
  let base = bytes.toString('latin1', 0, 8).trimEnd();
  let ext = bytes.toString('latin1', 8, 11).trimEnd();
  if (ntFlags & 0x08) base = base.toLowerCase();
  if (ntFlags & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

/** Parses directory bytes into entries (without '.' and '..', deleted entries and the label). */
export function parseDirectory(data: Buffer, parentPath: string): FatEntry[] {
  const out: FatEntry[] = [];
  let lfn: { parts: string[]; checksum: number; next: number } | null = null;
  for (let off = 0; off + 32 <= data.length; off += 32) {
    const first = data[off];
    if (first === 0x00) break;
    const attr = data[off + 11];
    if (first === 0xe5) {
      lfn = null;
      continue;
    }
    if ((attr & 0x3f) === ATTR_LFN) {
      const ord = first & 0x1f;
      const checksum = data[off + 13];
      const chars = Buffer.concat([
        data.subarray(off + 1, off + 11),
        data.subarray(off + 14, off + 26),
        data.subarray(off + 28, off + 32),
      ]).toString('utf16le');
      if (first & 0x40) lfn = ord >= 1 ? { parts: [], checksum, next: ord } : null;
      if (lfn && ord === lfn.next && checksum === lfn.checksum) {
        lfn.parts[ord - 1] = chars;
        lfn.next = ord - 1;
      } else lfn = null;
      continue;
    }
    const raw = data.subarray(off, off + 11);
    let longName: string | null = null;
    if (lfn && lfn.next === 0 && lfn.checksum === lfnChecksum(raw)) {
      const full = lfn.parts.join('');
      const end = full.indexOf('\0');
      longName = end >= 0 ? full.slice(0, end) : full;
    }
    lfn = null;
    if (attr & ATTR_VOLUME_ID) continue;
    const shortName = shortNameText(raw, data[off + 12]);
    if (shortName === '.' || shortName === '..') continue;
    const name = longName || shortName;
    out.push({
      name,
      shortName,
      longName: longName || null,
      path: `${parentPath}\\${name}`,
      isDirectory: (attr & ATTR_DIRECTORY) !== 0,
      attributes: attr,
      firstCluster: (data.readUInt16LE(off + 20) << 16) | data.readUInt16LE(off + 26),
      size: data.readUInt32LE(off + 28),
    });
  }
  return out;
}

/** A directory holds at most 65536 entries of 32 bytes (FAT spec). */
const MAX_DIR_BYTES = 65536 * 32;
const FAT_CHUNK = 64 * 1024;
const FAT_CACHE_CHUNKS = 256;

export interface FatWalk {
  entries: FatEntry[];
  /** Directories that could not be read (broken chains). */
  problems: string[];
  /** True when a limit stopped the walk. */
  truncated: boolean;
}

export interface WalkLimits {
  maxEntries: number;
  maxDepth: number;
}

/** A FAT file system on a block source (an ESP slice): read-only, every walk bounded. */
export class FatVolume {
  private readonly fatCache = new Map<number, Buffer>();

  private constructor(
    private readonly src: BlockSource,
    readonly layout: FatLayout,
  ) {}

  static async open(src: BlockSource): Promise<FatVolume> {
    if (src.size < 512)
      throw new ImageFormatError(`the partition is ${src.size} bytes: too small for a FAT file system`);
    return new FatVolume(src, parseBootSector(await src.read(0, 512), src.size));
  }

  private get eoc(): number {
    return this.layout.type === 'FAT12' ? 0xff8 : this.layout.type === 'FAT16' ? 0xfff8 : 0x0ffffff8;
  }

  private async fatByte(offset: number): Promise<number> {
    const chunk = Math.floor(offset / FAT_CHUNK);
    let buf = this.fatCache.get(chunk);
    if (!buf) {
      const fatBytes = this.layout.bpb.fatSectors * this.layout.bpb.bytesPerSector;
      const start = chunk * FAT_CHUNK;
      buf = await this.src.read(this.layout.fatOffset + start, Math.min(FAT_CHUNK, fatBytes - start));
      if (this.fatCache.size >= FAT_CACHE_CHUNKS)
        this.fatCache.delete(this.fatCache.keys().next().value as number);
      this.fatCache.set(chunk, buf);
    }
    return buf[offset % FAT_CHUNK];
  }

  /** The FAT entry of `cluster` in the first FAT. */
  async next(cluster: number): Promise<number> {
    const { type } = this.layout;
    if (type === 'FAT32') {
      const o = cluster * 4;
      const v =
        (await this.fatByte(o)) |
        ((await this.fatByte(o + 1)) << 8) |
        ((await this.fatByte(o + 2)) << 16) |
        ((await this.fatByte(o + 3)) << 24);
      return (v >>> 0) & 0x0fffffff;
    }
    if (type === 'FAT16')
      return (await this.fatByte(cluster * 2)) | ((await this.fatByte(cluster * 2 + 1)) << 8);
    const o = cluster + (cluster >> 1);
    const v = (await this.fatByte(o)) | ((await this.fatByte(o + 1)) << 8);
    return cluster & 1 ? v >> 4 : v & 0xfff;
  }

  private validCluster(c: number): boolean {
    return c >= 2 && c <= this.layout.clusterCount + 1;
  }

  /**
   * The first `want` clusters of the chain from `start` (all of it when `want` is null, up to
   * `limit`). A loop, a free or out-of-range link, or a chain past `limit` is an ImageFormatError.
   */
  async chain(start: number, want: number | null, limit: number, what: string): Promise<number[]> {
    const out: number[] = [];
    const seen = new Set<number>();
    let c = start;
    for (;;) {
      if (!this.validCluster(c))
        throw new ImageFormatError(`${what}: cluster chain reaches invalid cluster ${c}`);
      if (seen.has(c)) throw new ImageFormatError(`${what}: cluster chain loops back to cluster ${c}`);
      seen.add(c);
      out.push(c);
      if (want !== null && out.length >= want) return out;
      if (out.length > limit)
        throw new ImageFormatError(`${what}: cluster chain is longer than ${limit} clusters`);
      const n = await this.next(c);
      if (n >= this.eoc) {
        if (want !== null)
          throw new ImageFormatError(
            `${what}: cluster chain ends after ${out.length} clusters, ${want} needed`,
          );
        return out;
      }
      if (n === 0) throw new ImageFormatError(`${what}: cluster chain runs into free cluster (after ${c})`);
      c = n;
    }
  }

  private async readClusters(clusters: number[], bytes: number): Promise<Buffer> {
    const cs = this.layout.clusterSize;
    const out = Buffer.alloc(bytes);
    let done = 0;
    for (let i = 0; i < clusters.length && done < bytes; ) {
      // Merge contiguous clusters into one read.
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1] + 1 && (j - i) * cs < bytes - done) j++;
      const n = Math.min((j - i) * cs, bytes - done);
      (await this.src.read(this.layout.dataOffset + (clusters[i] - 2) * cs, n)).copy(out, done);
      done += n;
      i = j;
    }
    return out;
  }

  private async readDirectoryBytes(firstCluster: number | null, path: string): Promise<Buffer> {
    if (firstCluster === null) {
      if (this.layout.type === 'FAT32') firstCluster = this.layout.bpb.rootCluster as number;
      else return this.src.read(this.layout.rootDirOffset, this.layout.rootDirBytes);
    }
    const limit = Math.ceil(MAX_DIR_BYTES / this.layout.clusterSize);
    const clusters = await this.chain(firstCluster, null, limit, `directory ${path || '\\'}`);
    return this.readClusters(clusters, clusters.length * this.layout.clusterSize);
  }

  /** Entries of a directory; `dir` null is the root. */
  async list(dir: FatEntry | null): Promise<FatEntry[]> {
    if (dir && !dir.isDirectory) throw new ImageFormatError(`${dir.path} is not a directory`);
    // A directory entry with cluster 0 means the root (FAT spec for '..'); treat as empty instead.
    if (dir && dir.firstCluster === 0) return [];
    const data = await this.readDirectoryBytes(dir ? dir.firstCluster : null, dir ? dir.path : '');
    return parseDirectory(data, dir ? dir.path : '');
  }

  /** Case-insensitive lookup of `\A\B\C` (or `/`): long and short names both match. */
  async lookup(path: string): Promise<FatEntry | null> {
    const parts = path.split(/[\\/]+/).filter(Boolean);
    let dir: FatEntry | null = null;
    for (let i = 0; i < parts.length; i++) {
      const want = parts[i].toUpperCase();
      const found: FatEntry | undefined = (await this.list(dir)).find(
        (e) => e.name.toUpperCase() === want || e.shortName.toUpperCase() === want,
      );
      if (!found) return null;
      if (i < parts.length - 1 && !found.isDirectory) return null;
      dir = found;
    }
    return dir;
  }

  /** The first `max` bytes of a file (all of it when smaller), by its cluster chain. */
  async readFile(entry: FatEntry, max = 64 * 1024 * 1024): Promise<Buffer> {
    if (entry.isDirectory) throw new ImageFormatError(`${entry.path} is a directory`);
    const bytes = Math.min(entry.size, max);
    if (bytes === 0) return Buffer.alloc(0);
    const cs = this.layout.clusterSize;
    const needed = Math.ceil(bytes / cs);
    if (Math.ceil(entry.size / cs) > this.layout.clusterCount)
      throw new ImageFormatError(
        `${entry.path}: size ${entry.size} exceeds the volume's ${this.layout.clusterCount} clusters`,
      );
    const clusters = await this.chain(entry.firstCluster, needed, this.layout.clusterCount, entry.path);
    return this.readClusters(clusters, bytes);
  }

  /**
   * Follows a chain claiming each cluster for `path` in `owner`, so that every cluster is read once
   * however hostile the FAT: a cluster another chain holds ends the walk as a directory cycle (a
   * directory leading back to an ancestor) or as cross-linked chains. With `want`, the chain must
   * be exactly that long (a file's size). Returns the clusters, or null after noting the problem.
   */
  private async claimChain(
    start: number,
    want: number | null,
    limit: number,
    path: string,
    isDir: boolean,
    owner: Map<number, string>,
    problems: string[],
  ): Promise<number[] | null> {
    const what = isDir ? `directory ${path}` : path;
    const mine: number[] = [];
    for (let c = start; ; ) {
      if (!this.validCluster(c)) {
        problems.push(`${what}: cluster chain reaches invalid cluster ${c}`);
        return null;
      }
      const held = owner.get(c);
      if (held === path) {
        problems.push(`${what}: cluster chain loops back to cluster ${c}`);
        return null;
      }
      if (held !== undefined) {
        const ancestor = held === '\\' || path.toUpperCase().startsWith(`${held.toUpperCase()}\\`);
        problems.push(
          isDir && ancestor && mine.length === 0
            ? `directory cycle: ${path} leads back to ${held} (cluster ${c})`
            : `cross-linked clusters: ${path} and ${held} share cluster ${c}`,
        );
        return null;
      }
      owner.set(c, path);
      mine.push(c);
      const n = await this.next(c);
      if (want !== null && mine.length === want) {
        if (n < this.eoc)
          problems.push(`${what}: cluster chain is longer than its size needs (${want} clusters)`);
        return mine;
      }
      if (n >= this.eoc) {
        if (want === null) return mine;
        problems.push(`${what}: cluster chain ends after ${mine.length} clusters, ${want} needed`);
        return null;
      }
      if (n === 0) {
        problems.push(`${what}: cluster chain runs into free cluster (after ${c})`);
        return null;
      }
      if (mine.length >= limit) {
        problems.push(`${what}: cluster chain is longer than ${limit} clusters`);
        return null;
      }
      c = n;
    }
  }

  /**
   * Every file and directory, breadth first, bounded. Each cluster belongs to one chain: a
   * directory leading back to an ancestor (a cycle), chains sharing clusters (cross-linked) and
   * chains that do not fit their file's size are problems, and nothing is read twice.
   */
  async walk(limits: WalkLimits = { maxEntries: 20000, maxDepth: 16 }): Promise<FatWalk> {
    const entries: FatEntry[] = [];
    const problems: string[] = [];
    const owner = new Map<number, string>();
    const { type, bpb, clusterSize, clusterCount } = this.layout;
    const dirLimit = Math.ceil(MAX_DIR_BYTES / clusterSize);
    const files: FatEntry[] = [];
    let level: Array<FatEntry | null> = [null];
    let truncated = false;
    for (let depth = 0; level.length && !truncated; depth++) {
      if (depth >= limits.maxDepth) {
        truncated = true;
        break;
      }
      const nextLevel: FatEntry[] = [];
      for (const dir of level) {
        const path = dir ? dir.path : '\\';
        let data: Buffer;
        if (!dir && type !== 'FAT32')
          data = await this.src.read(this.layout.rootDirOffset, this.layout.rootDirBytes);
        else {
          const first = dir ? dir.firstCluster : (bpb.rootCluster as number);
          const clusters = await this.claimChain(first, null, dirLimit, path, true, owner, problems);
          if (!clusters) continue;
          data = await this.readClusters(clusters, clusters.length * clusterSize);
        }
        for (const e of parseDirectory(data, dir ? dir.path : '')) {
          if (entries.length >= limits.maxEntries) {
            truncated = true;
            break;
          }
          entries.push(e);
          if (!e.isDirectory) files.push(e);
          // Cluster 0 is the root directory (as '..' names it): a cycle too.
          else if (e.firstCluster === 0)
            problems.push(`directory cycle: ${e.path} leads back to \\ (cluster 0)`);
          else nextLevel.push(e);
        }
        if (truncated) break;
      }
      level = nextLevel;
    }
    // Files after directories, so that a file on a directory's clusters is named against it.
    for (const f of files) {
      if (f.size === 0) continue;
      const needed = Math.ceil(f.size / clusterSize);
      if (needed > clusterCount)
        problems.push(`${f.path}: size ${f.size} exceeds the volume's ${clusterCount} clusters`);
      else await this.claimChain(f.firstCluster, needed, needed, f.path, false, owner, problems);
    }
    return { entries, problems, truncated: truncated || level.length > 0 };
  }

  /**
   * Compares every FAT copy with the first, in chunks. Entries 0 and 1 (media byte, dirty flags)
   * are left out: drivers update them on one copy only.
   */
  async compareFats(): Promise<string[]> {
    const { bpb, fatOffset, type, clusterCount } = this.layout;
    const fatBytes = bpb.fatSectors * bpb.bytesPerSector;
    const bits = type === 'FAT32' ? 32 : type === 'FAT16' ? 16 : 12;
    // Only the entries of existing clusters: a FAT padded to a huge size must not cost its size.
    const used = Math.min(fatBytes, Math.ceil(((clusterCount + 2) * bits) / 8));
    const skip = type === 'FAT32' ? 8 : type === 'FAT16' ? 4 : 3;
    const problems: string[] = [];
    const chunk = 1024 * 1024;
    for (let copy = 1; copy < bpb.fatCount; copy++) {
      for (let off = 0; off < used; off += chunk) {
        const n = Math.min(chunk, used - off);
        const a = await this.src.read(fatOffset + off, n);
        const b = await this.src.read(fatOffset + copy * fatBytes + off, n);
        const from = off === 0 ? skip : 0;
        if (!a.subarray(from).equals(b.subarray(from))) {
          let i = from;
          while (a[i] === b[i]) i++;
          problems.push(`FAT copy ${copy + 1} differs from copy 1 at FAT byte offset ${off + i}`);
          break;
        }
      }
    }
    return problems;
  }
}
