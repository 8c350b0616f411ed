import { crc32 } from 'node:zlib';
import { ImageFormatError } from './errors';
import { formatGuid, ZERO_GUID } from './guid';
import type { BlockSource } from './source';

const SIGNATURE = 'EFI PART';
/** Larger entry arrays than this are absurd (the spec's minimum is 16 KiB); never read them. */
export const MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;
const MAX_ENTRY_SIZE = 64 * 1024;

export interface GptPartition {
  /** 1-based slot in the entry array. */
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  firstLba: number;
  lastLba: number;
  attributes: string;
  name: string;
}

export interface GptHeaderInfo {
  lba: number;
  revision: string;
  headerSize: number;
  headerCrc: { expected: string; found: string };
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  /** expected: the header's field; found: computed over the array (null when unreadable). */
  entriesCrc: { expected: string; found: string | null };
  /** True when signature, sizes and both CRCs are right. */
  valid: boolean;
}

export interface GptAnalysis {
  sectorSize: 512 | 4096 | null;
  protectiveMbr: { signature: boolean; protectiveEntry: boolean; otherEntries: number };
  primary: GptHeaderInfo | null;
  backup: GptHeaderInfo | null;
  /** Used partitions of the primary table, or of the backup when the primary is unusable. */
  partitions: GptPartition[];
  partitionsFrom: 'primary' | 'backup' | null;
  /** Problems of the GPT structure itself (MBR, headers, CRCs, backup); empty means conformant. */
  problems: string[];
  /** Partitions outside the usable range or overlapping each other (the table itself is sound). */
  partitionProblems: string[];
}

const hex32 = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

function u64(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

interface ParsedHeader {
  info: GptHeaderInfo;
  entries: Buffer | null;
  problems: string[];
}

async function readHeader(
  src: BlockSource,
  lba: number,
  ss: number,
  label: string,
): Promise<ParsedHeader | null> {
  if ((lba + 1) * ss > src.size) return null;
  const b = await src.read(lba * ss, ss);
  if (b.toString('latin1', 0, 8) !== SIGNATURE) return null;
  const problems: string[] = [];
  const headerSize = b.readUInt32LE(12);
  const storedCrc = b.readUInt32LE(16);
  let computed: number | null = null;
  if (headerSize < 92 || headerSize > ss) {
    problems.push(`${label} header size ${headerSize} is outside 92..${ss}`);
  } else {
    const copy = Buffer.from(b.subarray(0, headerSize));
    copy.writeUInt32LE(0, 16);
    computed = crc32(copy);
    if (computed !== storedCrc)
      problems.push(
        `${label} header CRC32 mismatch: header says ${hex32(storedCrc)}, computed ${hex32(computed)}`,
      );
  }
  const revision = b.readUInt32LE(8);
  const info: GptHeaderInfo = {
    lba,
    revision: `${revision >>> 16}.${revision & 0xffff}`,
    headerSize,
    headerCrc: { expected: hex32(storedCrc), found: computed === null ? 'not computable' : hex32(computed) },
    myLba: u64(b, 24),
    alternateLba: u64(b, 32),
    firstUsableLba: u64(b, 40),
    lastUsableLba: u64(b, 48),
    diskGuid: formatGuid(b, 56),
    entriesLba: u64(b, 72),
    entryCount: b.readUInt32LE(80),
    entrySize: b.readUInt32LE(84),
    entriesCrc: { expected: hex32(b.readUInt32LE(88)), found: null },
    valid: false,
  };
  if (info.myLba !== lba) problems.push(`${label} header at LBA ${lba} says my_lba ${info.myLba}`);
  if (info.firstUsableLba > info.lastUsableLba)
    problems.push(
      `${label} usable range is empty: first ${info.firstUsableLba} > last ${info.lastUsableLba}`,
    );
  const { entrySize, entryCount } = info;
  const entrySizeOk = entrySize >= 128 && entrySize <= MAX_ENTRY_SIZE && (entrySize & (entrySize - 1)) === 0;
  if (!entrySizeOk) problems.push(`${label} partition entry size ${entrySize} is not 128·2^n`);
  const arrayBytes = entryCount * entrySize;
  let entries: Buffer | null = null;
  if (entryCount === 0) problems.push(`${label} header declares no partition entries`);
  else if (entrySizeOk && arrayBytes > MAX_ENTRY_ARRAY_BYTES)
    problems.push(
      `${label} partition entry array of ${entryCount} × ${entrySize} bytes is absurd (limit ${MAX_ENTRY_ARRAY_BYTES})`,
    );
  else if (entrySizeOk) {
    const start = info.entriesLba * ss;
    if (!Number.isSafeInteger(start) || start + arrayBytes > src.size)
      problems.push(`${label} partition entry array at LBA ${info.entriesLba} lies past the image end`);
    else {
      entries = await src.read(start, arrayBytes);
      const found = crc32(entries);
      info.entriesCrc.found = hex32(found);
      if (hex32(found) !== info.entriesCrc.expected)
        problems.push(
          `${label} partition entry array CRC32 mismatch: header says ${info.entriesCrc.expected}, computed ${hex32(found)}`,
        );
    }
  }
  info.valid = problems.length === 0;
  return { info, entries, problems };
}

function parseEntries(entries: Buffer, h: GptHeaderInfo): GptPartition[] {
  const out: GptPartition[] = [];
  for (let i = 0; i < h.entryCount; i++) {
    const off = i * h.entrySize;
    const typeGuid = formatGuid(entries, off);
    if (typeGuid === ZERO_GUID) continue;
    const nameRaw = entries.subarray(off + 56, off + 128).toString('utf16le');
    const nul = nameRaw.indexOf('\0');
    out.push({
      index: i + 1,
      typeGuid,
      uniqueGuid: formatGuid(entries, off + 16),
      firstLba: u64(entries, off + 32),
      lastLba: u64(entries, off + 40),
      attributes: `0x${entries.readBigUInt64LE(off + 48).toString(16)}`,
      name: nul >= 0 ? nameRaw.slice(0, nul) : nameRaw,
    });
  }
  return out;
}

function checkPartitions(parts: GptPartition[], h: GptHeaderInfo): string[] {
  const problems: string[] = [];
  for (const p of parts) {
    if (p.firstLba > p.lastLba)
      problems.push(`partition ${p.index} ends (LBA ${p.lastLba}) before it starts (LBA ${p.firstLba})`);
    else if (p.firstLba < h.firstUsableLba || p.lastLba > h.lastUsableLba)
      problems.push(
        `partition ${p.index} (LBA ${p.firstLba}..${p.lastLba}) lies outside the usable range ${h.firstUsableLba}..${h.lastUsableLba}`,
      );
  }
  const sorted = parts.filter((p) => p.firstLba <= p.lastLba).sort((a, b) => a.firstLba - b.firstLba);
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length && sorted[j].firstLba <= sorted[i].lastLba; j++)
      problems.push(
        `partitions ${sorted[i].index} (LBA ${sorted[i].firstLba}..${sorted[i].lastLba}) and ${sorted[j].index} (LBA ${sorted[j].firstLba}..${sorted[j].lastLba}) overlap`,
      );
  return problems;
}

/** Partitions that overlap `p` (used by the ESP check). */
export function overlapping(p: GptPartition, all: readonly GptPartition[]): GptPartition[] {
  return all.filter((q) => q !== p && q.firstLba <= p.lastLba && p.firstLba <= q.lastLba);
}

function checkMbr(lba0: Buffer): GptAnalysis['protectiveMbr'] {
  const signature = lba0.readUInt16LE(510) === 0xaa55;
  let protectiveEntry = false;
  let otherEntries = 0;
  for (let i = 0; i < 4; i++) {
    const type = lba0[446 + i * 16 + 4];
    if (type === 0xee) protectiveEntry = true;
    else if (type !== 0) otherEntries++;
  }
  return {
    signature,
    protectiveEntry,
    otherEntries,
  };
}

/** Reads and checks the GPT of a disk: headers, CRCs, usable range, partitions, backup. */
export async function analyzeGpt(src: BlockSource): Promise<GptAnalysis> {
  const out: GptAnalysis = {
    sectorSize: null,
    protectiveMbr: { signature: false, protectiveEntry: false, otherEntries: 0 },
    primary: null,
    backup: null,
    partitions: [],
    partitionsFrom: null,
    problems: [],
    partitionProblems: [],
  };
  if (src.size < 1024) {
    out.problems.push(`the image is ${src.size} bytes: too small to hold a protective MBR and a GPT header`);
    return out;
  }
  out.protectiveMbr = checkMbr(await src.read(0, 512));
  if (!out.protectiveMbr.signature) out.problems.push('no protective MBR: LBA 0 lacks the 0x55AA signature');
  else if (!out.protectiveMbr.protectiveEntry)
    out.problems.push('LBA 0 is an MBR without a protective 0xEE entry');
  // UEFI 2.4A 5.2.3: a protective MBR has one 0xEE record and the other three zero. Firmware may
  // treat a hybrid MBR disk as a legacy MBR disk and ignore its GPT.
  else if (out.protectiveMbr.otherEntries > 0)
    out.problems.push(
      `hybrid MBR: ${out.protectiveMbr.otherEntries} partition record(s) beside the 0xEE one; a protective MBR has only the 0xEE record (UEFI 2.4A 5.2.3)`,
    );

  let primary: ParsedHeader | null = null;
  for (const ss of [512, 4096] as const) {
    primary = await readHeader(src, 1, ss, 'primary');
    if (primary) {
      out.sectorSize = ss;
      break;
    }
  }
  if (!primary) {
    out.problems.push("no GPT header: 'EFI PART' is at LBA 1 neither for 512- nor for 4096-byte sectors");
    // A surviving backup still tells where the partitions were.
    for (const ss of [512, 4096] as const) {
      const last = Math.floor(src.size / ss) - 1;
      const backup = await readHeader(src, last, ss, 'backup');
      if (backup) {
        out.sectorSize = ss;
        out.backup = backup.info;
        out.problems.push(...backup.problems);
        if (backup.entries && backup.info.valid) {
          out.partitions = parseEntries(backup.entries, backup.info);
          out.partitionsFrom = 'backup';
          out.partitionProblems.push(...checkPartitions(out.partitions, backup.info));
        }
        break;
      }
    }
    return out;
  }
  const ss = out.sectorSize as number;
  const p = primary.info;
  out.primary = p;
  out.problems.push(...primary.problems);
  const lastLba = Math.floor(src.size / ss) - 1;
  const arraySectors = Math.ceil((p.entryCount * p.entrySize) / ss);
  if (p.valid && p.entriesLba + arraySectors > p.firstUsableLba)
    out.problems.push(
      `primary entry array (LBA ${p.entriesLba}, ${arraySectors} sectors) overlaps the usable range from LBA ${p.firstUsableLba}`,
    );
  if (p.valid && p.lastUsableLba >= lastLba)
    out.problems.push(
      `last usable LBA ${p.lastUsableLba} leaves no room for the backup GPT before the last LBA ${lastLba}`,
    );
  if (primary.entries && p.valid) {
    out.partitions = parseEntries(primary.entries, p);
    out.partitionsFrom = 'primary';
    out.partitionProblems.push(...checkPartitions(out.partitions, p));
  }

  // The backup header: where the primary says, which must be the last LBA.
  const alt = p.alternateLba;
  if (alt !== lastLba) {
    if (alt > lastLba)
      out.problems.push(
        `backup GPT header lost: the image is ${src.size} bytes (last LBA ${lastLba}) but the primary header puts the backup at LBA ${alt}; the image was truncated`,
      );
    else
      out.problems.push(
        `backup GPT header is not at the last LBA: alternate_lba ${alt}, last LBA ${lastLba}`,
      );
  }
  const backupLba = alt <= lastLba && alt > 1 ? alt : lastLba;
  const backup = await readHeader(src, backupLba, ss, 'backup');
  if (!backup) {
    if (alt <= lastLba) out.problems.push(`no backup GPT header ('EFI PART') at LBA ${backupLba}`);
    return out;
  }
  const b = backup.info;
  out.backup = b;
  out.problems.push(...backup.problems);
  if (b.alternateLba !== 1) out.problems.push(`backup header alternate_lba is ${b.alternateLba}, not 1`);
  const same: Array<keyof GptHeaderInfo> = [
    'firstUsableLba',
    'lastUsableLba',
    'diskGuid',
    'entryCount',
    'entrySize',
  ];
  for (const k of same)
    if (b[k] !== p[k])
      out.problems.push(`backup header ${k} ${String(b[k])} differs from the primary's ${String(p[k])}`);
  if (b.entriesCrc.expected !== p.entriesCrc.expected)
    out.problems.push(
      `backup entry array CRC32 ${b.entriesCrc.expected} differs from the primary's ${p.entriesCrc.expected}`,
    );
  if (b.valid && b.entriesLba <= b.lastUsableLba)
    out.problems.push(`backup entry array at LBA ${b.entriesLba} lies inside the usable range`);
  if (!out.partitionsFrom && backup.entries && b.valid) {
    out.partitions = parseEntries(backup.entries, b);
    out.partitionsFrom = 'backup';
    out.partitionProblems.push(...checkPartitions(out.partitions, b));
  }
  return out;
}

/** Byte range of a partition on the disk. */
export function partitionRange(p: GptPartition, sectorSize: number): { offset: number; length: number } {
  const offset = p.firstLba * sectorSize;
  const length = (p.lastLba - p.firstLba + 1) * sectorSize;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || length <= 0)
    throw new ImageFormatError(
      `partition ${p.index} has an impossible LBA range ${p.firstLba}..${p.lastLba}`,
    );
  return { offset, length };
}
