import { lfnChecksum } from '../fat';

/**
 * A FAT32 file system written from a list of files, as the ESP of a payload's boot disk: 512-byte
 * sectors, one sector per cluster, two FATs, files and directories in contiguous clusters. The
 * output is a list of extents (offset, bytes) inside the volume; everything else is zero, so the
 * caller writes a sparse file. Deterministic: the same files give the same bytes (fixed time
 * stamps, a volume id from the caller), which is what lets the disk be cached by content hash.
 */

export interface FatFile {
  /** `EFI/BOOT/BOOTAA64.EFI`: directories separated by `/`, created as needed. */
  path: string;
  data: Buffer;
}

export interface Extent {
  offset: number;
  data: Buffer;
}

export interface Fat32Spec {
  files: readonly FatFile[];
  /** Sectors of the volume; at least MIN_FAT32_SECTORS. */
  sectors: number;
  /** The partition's first LBA (the BPB's hidden sectors). */
  hiddenSectors: number;
  volumeId: number;
  label?: string;
}

const SECTOR = 512;
const RESERVED = 32;
/** FAT32 needs at least 65525 clusters (FAT spec: fewer is FAT16 whatever the BPB says). */
export const MIN_FAT32_CLUSTERS = 65525;
export const MIN_FAT32_SECTORS = RESERVED + 2 * 520 + MIN_FAT32_CLUSTERS + 64;
const ATTR_DIRECTORY = 0x10;
const ATTR_ARCHIVE = 0x20;
const ATTR_LFN = 0x0f;
/** 2026-01-01 00:00: every entry's date (deterministic output). */
const FIXED_DATE = ((2026 - 1980) << 9) | (1 << 5) | 1;
const EOC = 0x0fffffff;
const SHORT_CHARS = /^[A-Z0-9!#$%&'()@^_`{}~-]+$/;

interface DirNode {
  name: string;
  children: Map<string, DirNode | FatFile>;
  cluster: number;
  bytes: Buffer;
}

const isDir = (n: DirNode | FatFile): n is DirNode => 'children' in n;

/** The volume's layout for `sectors`: FAT size so that every cluster has an entry. */
export function fat32Layout(sectors: number): { fatSectors: number; clusters: number; dataStart: number } {
  if (sectors < MIN_FAT32_SECTORS)
    throw new RangeError(`a FAT32 volume needs at least ${MIN_FAT32_SECTORS} sectors, not ${sectors}`);
  let fatSectors = 1;
  for (;;) {
    const clusters = sectors - RESERVED - 2 * fatSectors;
    if ((clusters + 2) * 4 <= fatSectors * SECTOR)
      return { fatSectors, clusters, dataStart: RESERVED + 2 * fatSectors };
    fatSectors = Math.ceil(((clusters + 2) * 4) / SECTOR);
  }
}

/** 8.3 name of `name` if it is one already (upper case), else null. */
function plainShort(name: string): string | null {
  const m = /^([^.]{1,8})(?:\.([^.]{1,3}))?$/.exec(name);
  if (!m || !SHORT_CHARS.test(m[1]!) || (m[2] !== undefined && !SHORT_CHARS.test(m[2]))) return null;
  return m[1]!.padEnd(8) + (m[2] ?? '').padEnd(3);
}

/** A unique `BASIS~N.EXT` alias for a long name (the FAT spec's numeric-tail scheme). */
function aliasFor(name: string, taken: Set<string>): string {
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9!#$%&'()@^_`{}~-]/g, '_');
  const dot = name.lastIndexOf('.');
  const base = clean(dot > 0 ? name.slice(0, dot) : name).replace(/^_+/, '') || 'FILE';
  const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : '';
  for (let n = 1; n < 1000000; n++) {
    const tail = `~${n}`;
    const short = (base.slice(0, 8 - tail.length) + tail).padEnd(8) + ext.padEnd(3);
    if (!taken.has(short)) return short;
  }
  throw new RangeError(`no 8.3 alias left for ${name}`);
}

function shortEntry(short11: string, attr: number, cluster: number, size: number): Buffer {
  const e = Buffer.alloc(32);
  e.write(short11, 0, 11, 'latin1');
  e[11] = attr;
  e.writeUInt16LE(FIXED_DATE, 16); // created
  e.writeUInt16LE(FIXED_DATE, 18); // accessed
  e.writeUInt16LE(cluster >>> 16, 20);
  e.writeUInt16LE(FIXED_DATE, 24); // written
  e.writeUInt16LE(cluster & 0xffff, 26);
  e.writeUInt32LE(size, 28);
  return e;
}

/** LFN entries a name takes: 13 UTF-16 units each, NUL-terminated unless it fills the last. */
const lfnCount = (name: string) => Math.ceil(name.length / 13);

/** The LFN entries of `name` before its short entry, last part first (FAT spec 7). */
function lfnEntries(name: string, short11: string): Buffer[] {
  const units = name.length;
  const parts = lfnCount(name);
  if (parts > 20) throw new RangeError(`file name too long for FAT: ${name}`);
  const chars = Buffer.alloc(parts * 26, 0xff);
  Buffer.from(name, 'utf16le').copy(chars);
  if (units % 13 !== 0) chars.writeUInt16LE(0, units * 2);
  const sum = lfnChecksum(Buffer.from(short11, 'latin1'));
  const out: Buffer[] = [];
  for (let p = parts; p >= 1; p--) {
    const e = Buffer.alloc(32);
    const c = chars.subarray((p - 1) * 26, p * 26);
    e[0] = p | (p === parts ? 0x40 : 0);
    c.copy(e, 1, 0, 10);
    e[11] = ATTR_LFN;
    e[13] = sum;
    c.copy(e, 14, 10, 22);
    c.copy(e, 28, 22, 26);
    out.push(e);
  }
  return out;
}

function tree(files: readonly FatFile[]): DirNode {
  const root: DirNode = { name: '', children: new Map(), cluster: 2, bytes: Buffer.alloc(0) };
  // Sorted, so that the order the files come in does not change the volume.
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of sorted) {
    const parts = f.path.split('/').filter(Boolean);
    if (parts.length === 0) throw new RangeError(`empty path`);
    let dir = root;
    for (const p of parts.slice(0, -1)) {
      const key = p.toUpperCase();
      let next = dir.children.get(key);
      if (!next)
        dir.children.set(key, (next = { name: p, children: new Map(), cluster: 0, bytes: Buffer.alloc(0) }));
      if (!isDir(next)) throw new RangeError(`${f.path}: ${p} is a file`);
      dir = next;
    }
    const leaf = parts.at(-1)!;
    if (dir.children.has(leaf.toUpperCase()))
      throw new RangeError(`${f.path} given twice (FAT names ignore case)`);
    dir.children.set(leaf.toUpperCase(), { path: leaf, data: f.data });
  }
  return root;
}

/** Builds the volume; returns its extents (boot sectors, FATs, directories, files). */
export function buildFat32(spec: Fat32Spec): Extent[] {
  const { fatSectors, clusters, dataStart } = fat32Layout(spec.sectors);
  const root = tree(spec.files);
  const fat = new Uint32Array(clusters + 2);
  fat[0] = 0x0ffffff8;
  fat[1] = EOC;
  let nextCluster = 2;
  const allocate = (bytes: number): number => {
    const n = Math.max(1, Math.ceil(bytes / SECTOR));
    if (nextCluster + n > clusters + 2)
      throw new RangeError(`the files do not fit in ${spec.sectors} sectors`);
    const first = nextCluster;
    for (let i = 0; i < n; i++) fat[first + i] = i === n - 1 ? EOC : first + i + 1;
    nextCluster += n;
    return first;
  };

  // Directories first (sizes known from their entries), then files, breadth first.
  const dirs: { node: DirNode; parent: DirNode | null }[] = [];
  const walk = (node: DirNode, parent: DirNode | null) => {
    dirs.push({ node, parent });
    for (const c of node.children.values()) if (isDir(c)) walk(c, node);
  };
  walk(root, null);
  const fileClusters = new Map<FatFile, number>();
  for (const { node } of dirs) {
    // Entries: . and .. (the root: its label), and per child its short entry and at most its LFN
    // entries (an upper bound: a plain 8.3 name has none unless another took its short name).
    let count = node === root ? 1 : 2;
    for (const c of node.children.values()) count += 1 + lfnCount(isDir(c) ? c.name : c.path);
    node.cluster = allocate((count + 1) * 32);
    node.bytes = Buffer.alloc(Math.ceil(((count + 1) * 32) / SECTOR) * SECTOR);
  }
  for (const { node } of dirs)
    for (const c of node.children.values())
      if (!isDir(c)) fileClusters.set(c, c.data.length ? allocate(c.data.length) : 0);

  for (const { node, parent } of dirs) {
    const out: Buffer[] = [];
    const taken = new Set<string>();
    if (node === root)
      out.push(shortEntry((spec.label ?? 'NO NAME').toUpperCase().padEnd(11).slice(0, 11), 0x08, 0, 0));
    else {
      out.push(shortEntry('.'.padEnd(11), ATTR_DIRECTORY, node.cluster, 0));
      out.push(shortEntry('..'.padEnd(11), ATTR_DIRECTORY, parent === root ? 0 : parent!.cluster, 0));
    }
    for (const c of node.children.values()) {
      const name = isDir(c) ? c.name : c.path;
      const plain = plainShort(name);
      const short11 = plain && !taken.has(plain) ? plain : aliasFor(name, taken);
      taken.add(short11);
      if (short11 !== plain) out.push(...lfnEntries(name, short11));
      out.push(
        isDir(c)
          ? shortEntry(short11, ATTR_DIRECTORY, c.cluster, 0)
          : shortEntry(short11, ATTR_ARCHIVE, fileClusters.get(c)!, c.data.length),
      );
    }
    Buffer.concat(out).copy(node.bytes);
  }

  const boot = Buffer.alloc(SECTOR);
  boot.set([0xeb, 0x58, 0x90], 0);
  boot.write('VMFARM  ', 3, 'latin1');
  boot.writeUInt16LE(SECTOR, 11);
  boot[13] = 1; // sectors per cluster
  boot.writeUInt16LE(RESERVED, 14);
  boot[16] = 2; // FATs
  boot[21] = 0xf8; // fixed media
  boot.writeUInt16LE(32, 24); // sectors per track (CHS, unused)
  boot.writeUInt16LE(64, 26); // heads (CHS, unused)
  boot.writeUInt32LE(spec.hiddenSectors, 28);
  boot.writeUInt32LE(spec.sectors, 32);
  boot.writeUInt32LE(fatSectors, 36);
  boot.writeUInt32LE(2, 44); // root cluster
  boot.writeUInt16LE(1, 48); // FSInfo sector
  boot.writeUInt16LE(6, 50); // backup boot sector
  boot[64] = 0x80;
  boot[66] = 0x29;
  boot.writeUInt32LE(spec.volumeId >>> 0, 67);
  boot.write((spec.label ?? 'NO NAME').toUpperCase().padEnd(11).slice(0, 11), 71, 'latin1');
  boot.write('FAT32   ', 82, 'latin1');
  boot.writeUInt16LE(0xaa55, 510);
  const info = Buffer.alloc(SECTOR);
  info.writeUInt32LE(0x41615252, 0);
  info.writeUInt32LE(0x61417272, 484);
  info.writeUInt32LE(clusters - (nextCluster - 2), 488);
  info.writeUInt32LE(nextCluster, 492);
  info.writeUInt32LE(0xaa550000, 508);

  // Only the used part of each FAT is non-zero.
  const fatUsed = Buffer.from(fat.buffer, fat.byteOffset, nextCluster * 4);
  const extents: Extent[] = [
    { offset: 0, data: Buffer.concat([boot, info]) },
    { offset: 6 * SECTOR, data: Buffer.concat([boot, info]) },
    { offset: RESERVED * SECTOR, data: Buffer.from(fatUsed) },
    { offset: (RESERVED + fatSectors) * SECTOR, data: Buffer.from(fatUsed) },
  ];
  const clusterOffset = (c: number) => (dataStart + (c - 2)) * SECTOR;
  for (const { node } of dirs) extents.push({ offset: clusterOffset(node.cluster), data: node.bytes });
  for (const [f, c] of fileClusters)
    if (f.data.length) extents.push({ offset: clusterOffset(c), data: f.data });
  return extents;
}
