/**
 * Small in-memory image builders for tests: a GPT disk with correct CRCs, FAT12/16/32 volumes with
 * long names, PE/COFF headers and a qcow2 writer (with zero and compressed clusters).
 */
import { crc32, deflateRawSync } from 'node:zlib';
import { guidBytes, lfnChecksum, NV_DATA_FV_GUID } from '../src';

export const ESP_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
export const LINUX_GUID = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

export interface GptPartSpec {
  type: string;
  first: number;
  last: number;
  name?: string;
  /** Bytes to place at the partition start. */
  data?: Buffer;
}

export interface GptSpec {
  sectorSize?: 512 | 4096;
  totalSectors: number;
  partitions: GptPartSpec[];
  entryCount?: number;
  entrySize?: number;
}

export interface GptLayout {
  firstUsable: number;
  lastUsable: number;
  primaryEntriesLba: number;
  backupEntriesLba: number;
  lastLba: number;
}

export function gptLayout(spec: GptSpec): GptLayout {
  const ss = spec.sectorSize ?? 512;
  const arraySectors = Math.ceil(((spec.entryCount ?? 128) * (spec.entrySize ?? 128)) / ss);
  const lastLba = spec.totalSectors - 1;
  return {
    firstUsable: 2 + arraySectors,
    lastUsable: lastLba - 1 - arraySectors,
    primaryEntriesLba: 2,
    backupEntriesLba: lastLba - arraySectors,
    lastLba,
  };
}

/** Recomputes the header CRC of the GPT header at `lba` (after a test changed a field). */
export function fixHeaderCrc(disk: Buffer, lba: number, ss = 512): void {
  const off = lba * ss;
  const size = disk.readUInt32LE(off + 12);
  disk.writeUInt32LE(0, off + 16);
  disk.writeUInt32LE(crc32(disk.subarray(off, off + size)), off + 16);
}

export function buildGpt(spec: GptSpec): Buffer {
  const ss = spec.sectorSize ?? 512;
  const count = spec.entryCount ?? 128;
  const esize = spec.entrySize ?? 128;
  const L = gptLayout(spec);
  const disk = Buffer.alloc(spec.totalSectors * ss);
  // Protective MBR.
  const pe = 446;
  disk[pe + 4] = 0xee;
  disk.writeUInt32LE(1, pe + 8);
  disk.writeUInt32LE(Math.min(spec.totalSectors - 1, 0xffffffff), pe + 12);
  disk.writeUInt16LE(0xaa55, 510);
  const entries = Buffer.alloc(count * esize);
  spec.partitions.forEach((p, i) => {
    const o = i * esize;
    guidBytes(p.type).copy(entries, o);
    guidBytes(`11111111-2222-3333-4444-${(0x555555555500 + i).toString(16)}`).copy(entries, o + 16);
    entries.writeBigUInt64LE(BigInt(p.first), o + 32);
    entries.writeBigUInt64LE(BigInt(p.last), o + 40);
    entries.write(p.name ?? `part${i + 1}`, o + 56, 'utf16le');
    if (p.data) p.data.copy(disk, p.first * ss);
  });
  const entriesCrc = crc32(entries);
  const header = (my: number, alt: number, entriesLba: number) => {
    const h = Buffer.alloc(92);
    h.write('EFI PART', 0, 'latin1');
    h.writeUInt32LE(0x00010000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(my), 24);
    h.writeBigUInt64LE(BigInt(alt), 32);
    h.writeBigUInt64LE(BigInt(L.firstUsable), 40);
    h.writeBigUInt64LE(BigInt(L.lastUsable), 48);
    guidBytes('AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE').copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(count, 80);
    h.writeUInt32LE(esize, 84);
    h.writeUInt32LE(entriesCrc, 88);
    h.writeUInt32LE(crc32(h), 16);
    return h;
  };
  header(1, L.lastLba, L.primaryEntriesLba).copy(disk, ss);
  entries.copy(disk, L.primaryEntriesLba * ss);
  entries.copy(disk, L.backupEntriesLba * ss);
  header(L.lastLba, 1, L.backupEntriesLba).copy(disk, L.lastLba * ss);
  return disk;
}

// ---------------------------------------------------------------- FAT

export interface FatSpec {
  type: 'FAT12' | 'FAT16' | 'FAT32';
  totalSectors: number;
  sectorsPerCluster?: number;
  /** Paths with backslashes or slashes; directories are created as needed. */
  files: Record<string, Buffer>;
  /** Empty directories to create. */
  dirs?: string[];
}

interface Node {
  name: string;
  data?: Buffer;
  children?: Map<string, Node>;
  cluster: number;
  clusters: number;
}

function isShortName(name: string): boolean {
  return /^[A-Z0-9_~$!#%&-]{1,8}(\.[A-Z0-9_~$!#%&-]{1,3})?$/.test(name);
}

function short11(name: string): Buffer {
  const [base, ext = ''] = name.split('.');
  return Buffer.from(base.padEnd(8, ' ') + ext.padEnd(3, ' '), 'latin1');
}

function dirEntry(name11: Buffer, attr: number, cluster: number, size: number): Buffer {
  const e = Buffer.alloc(32);
  name11.copy(e, 0);
  e[11] = attr;
  e.writeUInt16LE(cluster >>> 16, 20);
  e.writeUInt16LE(cluster & 0xffff, 26);
  e.writeUInt32LE(size, 28);
  return e;
}

/** Directory entries for `name`: LFN slots (when not a plain 8.3 name) then the short entry. */
export function namedEntries(
  name: string,
  attr: number,
  cluster: number,
  size: number,
  seq: number,
): Buffer[] {
  if (isShortName(name)) return [dirEntry(short11(name), attr, cluster, size)];
  const dot = name.lastIndexOf('.');
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '');
  const base = clean(dot > 0 ? name.slice(0, dot) : name).slice(0, 6) || 'X';
  const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : '';
  const s11 = short11(`${base}~${seq}${ext ? `.${ext}` : ''}`);
  const sum = lfnChecksum(s11);
  const units = [...Buffer.from(name, 'utf16le')];
  const chars: number[] = [];
  for (let i = 0; i < units.length; i += 2) chars.push(units[i] | (units[i + 1] << 8));
  chars.push(0);
  while (chars.length % 13) chars.push(0xffff);
  const n = chars.length / 13;
  const out: Buffer[] = [];
  for (let k = n; k >= 1; k--) {
    const e = Buffer.alloc(32);
    e[0] = k | (k === n ? 0x40 : 0);
    e[11] = 0x0f;
    e[13] = sum;
    const part = chars.slice((k - 1) * 13, k * 13);
    const at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    part.forEach((c, j) => e.writeUInt16LE(c, at[j]));
    out.push(e);
  }
  out.push(dirEntry(s11, attr, cluster, size));
  return out;
}

export interface BuiltFat {
  volume: Buffer;
  clusterCount: number;
  fatOffset: number;
  fatBytes: number;
  dataOffset: number;
  clusterSize: number;
  /** First cluster of each file/dir by path as given (uppercase-insensitive not applied). */
  clusterOf: Map<string, number>;
}

export function buildFat(spec: FatSpec): BuiltFat {
  const bps = 512;
  const spc = spec.sectorsPerCluster ?? 1;
  const is32 = spec.type === 'FAT32';
  const reserved = is32 ? 32 : 1;
  const rootEntries = is32 ? 0 : 512;
  const rootDirSectors = Math.ceil((rootEntries * 32) / bps);
  const entryBits = spec.type === 'FAT12' ? 12 : spec.type === 'FAT16' ? 16 : 32;
  let fatSz = 1;
  let clusters = 0;
  for (let i = 0; i < 10; i++) {
    clusters = Math.floor((spec.totalSectors - reserved - 2 * fatSz - rootDirSectors) / spc);
    fatSz = Math.ceil(Math.ceil(((clusters + 2) * entryBits) / 8) / bps);
  }
  clusters = Math.floor((spec.totalSectors - reserved - 2 * fatSz - rootDirSectors) / spc);
  const want = clusters < 4085 ? 'FAT12' : clusters < 65525 ? 'FAT16' : 'FAT32';
  if (want !== spec.type) throw new Error(`builder: ${clusters} clusters make ${want}, not ${spec.type}`);
  const vol = Buffer.alloc(spec.totalSectors * bps);
  const cs = spc * bps;
  const fatOffset = reserved * bps;
  const rootDirOffset = fatOffset + 2 * fatSz * bps;
  const dataOffset = rootDirOffset + rootDirSectors * bps;
  const fat: number[] = new Array(clusters + 2).fill(0);
  fat[0] = 0x0ffffff8;
  fat[1] = 0x0fffffff;
  let nextFree = 2;
  const alloc = (bytes: number) => {
    const n = Math.max(1, Math.ceil(bytes / cs));
    const first = nextFree;
    for (let i = 0; i < n; i++) fat[first + i] = i === n - 1 ? 0x0fffffff : first + i + 1;
    nextFree += n;
    if (nextFree > clusters + 2) throw new Error('builder: volume full');
    return first;
  };
  const root: Node = { name: '', children: new Map(), cluster: 0, clusters: 0 };
  const clusterOf = new Map<string, number>();
  const ensureDir = (parts: string[]) => {
    let d = root;
    for (const p of parts) {
      let c = d.children!.get(p);
      if (!c) {
        c = { name: p, children: new Map(), cluster: 0, clusters: 0 };
        d.children!.set(p, c);
      }
      d = c;
    }
    return d;
  };
  for (const dir of spec.dirs ?? []) ensureDir(dir.split(/[\\/]+/).filter(Boolean));
  for (const [path, data] of Object.entries(spec.files)) {
    const parts = path.split(/[\\/]+/).filter(Boolean);
    const name = parts.pop() as string;
    ensureDir(parts).children!.set(name, { name, data, cluster: 0, clusters: 0 });
  }
  // Directory contents first need child clusters: allocate top-down, then write.
  const dirBytes = (d: Node) => {
    let n = d === root ? 0 : 2;
    let seq = 1;
    for (const c of d.children!.values()) n += namedEntries(c.name, 0, 0, 0, seq++).length;
    return (n + 1) * 32;
  };
  const allocate = (d: Node, path: string) => {
    if (d !== root || is32) d.cluster = alloc(dirBytes(d));
    if (d !== root) clusterOf.set(path, d.cluster);
    for (const c of d.children!.values()) {
      const p = `${path}\\${c.name}`;
      if (c.children) allocate(c, p);
      else {
        c.cluster = c.data!.length ? alloc(c.data!.length) : 0;
        clusterOf.set(p, c.cluster);
        c.data!.copy(vol, dataOffset + (c.cluster - 2) * cs);
      }
    }
  };
  allocate(root, '');
  const write = (d: Node, parent: Node | null) => {
    const entries: Buffer[] = [];
    if (d !== root) {
      entries.push(dirEntry(Buffer.from('.          ', 'latin1'), 0x10, d.cluster, 0));
      entries.push(
        dirEntry(Buffer.from('..         ', 'latin1'), 0x10, parent === root ? 0 : parent!.cluster, 0),
      );
    }
    let seq = 1;
    for (const c of d.children!.values()) {
      entries.push(...namedEntries(c.name, c.children ? 0x10 : 0x20, c.cluster, c.data?.length ?? 0, seq++));
      if (c.children) write(c, d);
    }
    const at = d === root && !is32 ? rootDirOffset : dataOffset + (d.cluster - 2) * cs;
    Buffer.concat(entries).copy(vol, at);
  };
  write(root, null);
  // Boot sector.
  vol[0] = 0xeb;
  vol[1] = is32 ? 0x58 : 0x3c;
  vol[2] = 0x90;
  vol.write('MSWIN4.1', 3, 'latin1');
  vol.writeUInt16LE(bps, 11);
  vol[13] = spc;
  vol.writeUInt16LE(reserved, 14);
  vol[16] = 2;
  vol.writeUInt16LE(rootEntries, 17);
  if (spec.totalSectors < 0x10000 && !is32) vol.writeUInt16LE(spec.totalSectors, 19);
  else vol.writeUInt32LE(spec.totalSectors, 32);
  vol[21] = 0xf8;
  if (is32) {
    vol.writeUInt32LE(fatSz, 36);
    vol.writeUInt32LE(root.cluster, 44);
    vol.writeUInt16LE(1, 48);
    vol.writeUInt16LE(6, 50);
    vol[66] = 0x29;
    vol.write('NO NAME    FAT32   ', 71, 'latin1');
  } else {
    vol.writeUInt16LE(fatSz, 22);
    vol[38] = 0x29;
    vol.write(`NO NAME    ${spec.type.padEnd(8)}`, 43, 'latin1');
  }
  vol.writeUInt16LE(0xaa55, 510);
  // FAT copies.
  const fatBuf = Buffer.alloc(fatSz * bps);
  for (let c = 0; c < fat.length; c++) {
    const v = fat[c];
    if (spec.type === 'FAT32') fatBuf.writeUInt32LE(v >>> 0, c * 4);
    else if (spec.type === 'FAT16') fatBuf.writeUInt16LE(v >= 0x0ffffff8 ? 0xffff : v & 0xffff, c * 2);
    else {
      const x = v >= 0x0ffffff8 ? 0xfff : v & 0xfff;
      const o = c + (c >> 1);
      if (c & 1) {
        fatBuf[o] = (fatBuf[o] & 0x0f) | ((x << 4) & 0xf0);
        fatBuf[o + 1] = x >> 4;
      } else {
        fatBuf[o] = x & 0xff;
        fatBuf[o + 1] = (fatBuf[o + 1] & 0xf0) | (x >> 8);
      }
    }
  }
  fatBuf.copy(vol, fatOffset);
  fatBuf.copy(vol, fatOffset + fatSz * bps);
  return {
    volume: vol,
    clusterCount: clusters,
    fatOffset,
    fatBytes: fatSz * bps,
    dataOffset,
    clusterSize: cs,
    clusterOf,
  };
}

/** Sets FAT entry `cluster` to `value` in every copy (FAT32/FAT16 only). */
export function setFatEntry(fat: BuiltFat, type: 'FAT16' | 'FAT32', cluster: number, value: number): void {
  for (const copy of [0, 1]) {
    const base = fat.fatOffset + copy * fat.fatBytes;
    if (type === 'FAT32') fat.volume.writeUInt32LE(value, base + cluster * 4);
    else fat.volume.writeUInt16LE(value, base + cluster * 2);
  }
}

// ---------------------------------------------------------------- PE

export interface PeSpec {
  machine?: number;
  magic?: 0x10b | 0x20b;
  subsystem?: number;
  entry?: number;
  sections?: Array<{ name: string; va: number; size: number; characteristics: number }>;
  /** Total file size (padded with zeros). */
  size?: number;
}

export const TEXT = 0x60000020;
export const DATA = 0xc0000040;

export function buildPe(spec: PeSpec = {}): Buffer {
  const magic = spec.magic ?? 0x20b;
  const sections = spec.sections ?? [
    { name: '.text', va: 0x1000, size: 0x1000, characteristics: TEXT },
    { name: '.data', va: 0x2000, size: 0x1000, characteristics: DATA },
  ];
  const lfanew = 0x80;
  const optSize = magic === 0x20b ? 240 : 224;
  const size = spec.size ?? 0x1000 + sections.length * 0x1000;
  const b = Buffer.alloc(size);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(lfanew, 0x3c);
  b.write('PE\0\0', lfanew, 'latin1');
  const coff = lfanew + 4;
  b.writeUInt16LE(spec.machine ?? 0xaa64, coff);
  b.writeUInt16LE(sections.length, coff + 2);
  b.writeUInt16LE(optSize, coff + 16);
  b.writeUInt16LE(0x0206, coff + 18);
  const opt = coff + 20;
  b.writeUInt16LE(magic, opt);
  b.writeUInt32LE(spec.entry ?? 0x1000, opt + 16);
  b.writeUInt16LE(spec.subsystem ?? 10, opt + 68);
  const st = opt + optSize;
  sections.forEach((s, i) => {
    const o = st + i * 40;
    b.write(s.name, o, 'latin1');
    b.writeUInt32LE(s.size, o + 8);
    b.writeUInt32LE(s.va, o + 12);
    b.writeUInt32LE(s.size, o + 16);
    b.writeUInt32LE(0x1000 * (i + 1), o + 20);
    b.writeUInt32LE(s.characteristics, o + 36);
  });
  return b;
}

// ---------------------------------------------------------------- qcow2

export interface Qcow2Spec {
  version?: 2 | 3;
  clusterBits?: number;
  /** Guest clusters to store compressed. */
  compressed?: Iterable<number>;
  /** Guest clusters to mark as zero clusters (v3 flag) instead of leaving unallocated. */
  zeroFlag?: Iterable<number>;
}

/**
 * Writes `raw` as a qcow2 file laid out as qemu-img does: header cluster, one refcount table
 * cluster, the L1 table, L2 tables, data, then refcount blocks (16-bit) counting every cluster.
 */
export function writeQcow2(raw: Buffer, spec: Qcow2Spec = {}): Buffer {
  const version = spec.version ?? 3;
  const bits = spec.clusterBits ?? 16;
  const cs = 2 ** bits;
  const l2Entries = cs / 8;
  const clusters = Math.ceil(raw.length / cs);
  const l1Size = Math.max(1, Math.ceil(clusters / l2Entries));
  const compressed = new Set(spec.compressed ?? []);
  const zeroFlag = new Set(spec.zeroFlag ?? []);
  const refTableOffset = cs;
  const l1Offset = 2 * cs;
  const l2Start = l1Offset + Math.ceil((l1Size * 8) / cs) * cs;
  let next = l2Start + l1Size * cs;
  const parts: Array<[number, Buffer]> = [];
  const l1 = Buffer.alloc(l1Size * 8);
  const l2s = Array.from({ length: l1Size }, () => Buffer.alloc(cs));
  for (let c = 0; c < clusters; c++) {
    const data = Buffer.alloc(cs);
    raw.copy(data, 0, c * cs, Math.min(raw.length, (c + 1) * cs));
    const l2 = l2s[Math.floor(c / l2Entries)];
    const slot = (c % l2Entries) * 8;
    if (zeroFlag.has(c)) {
      l2.writeBigUInt64BE(1n, slot);
      continue;
    }
    if (data.every((x) => x === 0)) continue;
    if (compressed.has(c)) {
      const z = deflateRawSync(data);
      const x = BigInt(62 - (bits - 8));
      const sectors = Math.ceil(((next % 512) + z.length) / 512);
      l2.writeBigUInt64BE((1n << 62n) | (BigInt(sectors - 1) << x) | BigInt(next), slot);
      parts.push([next, z]);
      next = Math.ceil((next + z.length) / cs) * cs;
    } else {
      l2.writeBigUInt64BE((1n << 63n) | BigInt(next), slot);
      parts.push([next, data]);
      next += cs;
    }
  }
  // Refcount blocks after the data: enough of them to count themselves too.
  const perBlock = cs / 2;
  let blocks = 1;
  while (next / cs + blocks > blocks * perBlock) blocks++;
  if (blocks > cs / 8) throw new Error('writeQcow2: image too large for one refcount table cluster');
  const refBlocksOffset = next;
  const total = next / cs + blocks;
  for (let i = 0; i < l1Size; i++) l1.writeBigUInt64BE((1n << 63n) | BigInt(l2Start + i * cs), i * 8);
  const out = Buffer.alloc(next + blocks * cs);
  out.writeUInt32BE(0x514649fb, 0);
  out.writeUInt32BE(version, 4);
  out.writeUInt32BE(bits, 20);
  out.writeBigUInt64BE(BigInt(raw.length), 24);
  out.writeUInt32BE(l1Size, 36);
  out.writeBigUInt64BE(BigInt(l1Offset), 40);
  out.writeBigUInt64BE(BigInt(refTableOffset), 48);
  out.writeUInt32BE(1, 56);
  if (version === 3) {
    out.writeUInt32BE(4, 96); // refcount_order
    out.writeUInt32BE(104, 100); // header_length
  }
  l1.copy(out, l1Offset);
  l2s.forEach((l2, i) => l2.copy(out, l2Start + i * cs));
  for (const [off, data] of parts) data.copy(out, off);
  for (let b = 0; b < blocks; b++)
    out.writeBigUInt64BE(BigInt(refBlocksOffset + b * cs), refTableOffset + b * 8);
  // Clusters in use: metadata, L2 tables, data (compressed ones share theirs), refcount blocks.
  const used = new Set<number>([0, 1]);
  for (let o = l1Offset; o < next; o += cs) used.add(o / cs);
  for (let c = next / cs; c < total; c++) used.add(c);
  for (const c of used) out.writeUInt16BE(1, refBlocksOffset + c * 2);
  return out;
}

// --- edk2 variable stores (VariableFormat.h, PiFirmwareVolume.h) ---

export interface VariableSpec {
  name: string;
  guid: string;
  data: Buffer;
  /** VAR_ADDED (0x3f) unless given. */
  state?: number;
  attributes?: number;
}

/** One authenticated variable record (60-byte header, UTF-16 name, data), 4-byte aligned. */
export function authVariable({ name, guid, data, state = 0x3f, attributes = 7 }: VariableSpec): Buffer {
  const n = Buffer.from(`${name}\0`, 'utf16le');
  const b = Buffer.alloc((60 + n.length + data.length + 3) & ~3, 0xff);
  b.fill(0, 0, 60);
  b.writeUInt16LE(0x55aa, 0);
  b[2] = state;
  b.writeUInt32LE(attributes, 4);
  b.writeUInt32LE(n.length, 0x24);
  b.writeUInt32LE(data.length, 0x28);
  guidBytes(guid).copy(b, 0x2c);
  n.copy(b, 60);
  data.copy(b, 60 + n.length);
  return b;
}

/** An NV-data firmware volume (0x48-byte header, correct checksum) holding a formatted, healthy store. */
export function nvDataVolume(signature: string, vars: readonly Buffer[], fvLength = 0x10000): Buffer {
  const b = Buffer.alloc(fvLength, 0xff);
  b.fill(0, 0, 0x48 + 28);
  guidBytes(NV_DATA_FV_GUID).copy(b, 0x10);
  b.writeBigUInt64LE(BigInt(fvLength), 0x20);
  b.write('_FVH', 0x28, 'latin1');
  b.writeUInt32LE(0xe36, 0x2c);
  b.writeUInt16LE(0x48, 0x30);
  b[0x37] = 2;
  b.writeUInt32LE(fvLength / 0x1000, 0x38);
  b.writeUInt32LE(0x1000, 0x3c);
  let sum = 0;
  for (let i = 0; i < 0x48; i += 2) sum = (sum + b.readUInt16LE(i)) & 0xffff;
  b.writeUInt16LE((0x10000 - sum) & 0xffff, 0x32);
  guidBytes(signature).copy(b, 0x48);
  b.writeUInt32LE(fvLength - 0x48, 0x58);
  b[0x5c] = 0x5a; // formatted
  b[0x5d] = 0xfe; // healthy
  Buffer.concat(vars).copy(b, 0x64);
  return b;
}

/** The arguments for `qemu-img` to write the raw file `raw` as qcow2 at `qcow2`, with `options` (-c, -o …). */
export function qemuImgQcow2Args(raw: string, qcow2: string, options: string[]): string[] {
  return ['convert', '-f', 'raw', '-O', 'qcow2', ...options, raw, qcow2];
}
