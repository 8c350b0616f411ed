import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ESP_TYPE_GUID, guidBytes } from '../guid';
import { buildFat32, MIN_FAT32_SECTORS, type Extent, type FatFile } from './fat32';

/**
 * A boot disk holding one ESP: protective MBR, GPT (primary and backup, 128 entries), one
 * FAT32 EFI System Partition at LBA 2048 with the given files. Written sparse (only the extents
 * that hold data), deterministically: the GUIDs and the volume id come from the content, so the
 * same files give the same disk, byte for byte.
 */

const SECTOR = 512;
const FIRST_LBA = 2048;
const ENTRIES = 128;
const ENTRY_SIZE = 128;
const ENTRY_SECTORS = (ENTRIES * ENTRY_SIZE) / SECTOR;
/** Bumped when the layout changes, so that cached disks of an older layout are not reused. */
export const ESP_DISK_LAYOUT = 'vmfarm-esp-disk-1';

export interface EspDiskSpec {
  files: readonly FatFile[];
  /** The ESP's size; default: the files plus 16 MiB, at least 64 MiB (FAT32's minimum and room). */
  espBytes?: number;
}

/** sha256 of what determines the disk's bytes: the layout version, each path and its content. */
export function espDiskKey(spec: EspDiskSpec): string {
  const h = createHash('sha256').update(ESP_DISK_LAYOUT).update('\0');
  for (const f of [...spec.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)))
    h.update(f.path).update('\0').update(createHash('sha256').update(f.data).digest('hex')).update('\0');
  return h.update(String(spec.espBytes ?? '')).digest('hex');
}

const guidFrom = (key: string, label: string) => {
  const hex = createHash('sha256').update(key).update(label).digest('hex').slice(0, 32).split('');
  hex[12] = '4'; // version 4 layout, variant 10
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('').toUpperCase();
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
};

function gptHeader(
  myLba: number,
  altLba: number,
  entriesLba: number,
  lastUsable: number,
  diskGuid: string,
  entriesCrc: number,
): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write('EFI PART', 0, 'latin1');
  h.writeUInt32LE(0x00010000, 8);
  h.writeUInt32LE(92, 12);
  h.writeBigUInt64LE(BigInt(myLba), 24);
  h.writeBigUInt64LE(BigInt(altLba), 32);
  h.writeBigUInt64LE(BigInt(2 + ENTRY_SECTORS), 40);
  h.writeBigUInt64LE(BigInt(lastUsable), 48);
  guidBytes(diskGuid).copy(h, 56);
  h.writeBigUInt64LE(BigInt(entriesLba), 72);
  h.writeUInt32LE(ENTRIES, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
  return h;
}

/** The disk's extents and size for `spec`, keyed by `key` (GUIDs and volume id derive from it). */
export function espDiskExtents(
  spec: EspDiskSpec,
  key = espDiskKey(spec),
): { size: number; extents: Extent[] } {
  const content = spec.files.reduce((n, f) => n + Math.ceil(f.data.length / SECTOR) * SECTOR, 0);
  const mib = 1024 * 1024;
  const espBytes = spec.espBytes ?? Math.max(64 * mib, Math.ceil((content + 16 * mib) / mib) * mib);
  const espSectors = Math.max(Math.floor(espBytes / SECTOR), MIN_FAT32_SECTORS);
  const lastEsp = FIRST_LBA + espSectors - 1;
  // Room for the backup entries and header, then rounded up to a whole MiB.
  const totalSectors = Math.ceil((lastEsp + 1 + ENTRY_SECTORS + 1) / 2048) * 2048;
  const lastLba = totalSectors - 1;
  const lastUsable = lastLba - ENTRY_SECTORS - 1;

  const mbr = Buffer.alloc(SECTOR);
  // One partition of type 0xEE over the whole disk (UEFI 5.2.3), capped at 2^32-1 sectors.
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mbr.writeUInt32LE(1, 454);
  mbr.writeUInt32LE(Math.min(totalSectors - 1, 0xffffffff), 458);
  mbr.writeUInt16LE(0xaa55, 510);

  const entries = Buffer.alloc(ENTRIES * ENTRY_SIZE);
  guidBytes(ESP_TYPE_GUID).copy(entries, 0);
  guidBytes(guidFrom(key, 'esp')).copy(entries, 16);
  entries.writeBigUInt64LE(BigInt(FIRST_LBA), 32);
  entries.writeBigUInt64LE(BigInt(lastEsp), 40);
  entries.write('EFI system partition', 56, 'utf16le');
  const entriesCrc = crc32(entries);
  const diskGuid = guidFrom(key, 'disk');

  const fat = buildFat32({
    files: spec.files,
    sectors: espSectors,
    hiddenSectors: FIRST_LBA,
    volumeId: parseInt(key.slice(0, 8), 16),
    label: 'VMFARM',
  });
  return {
    size: totalSectors * SECTOR,
    extents: [
      { offset: 0, data: mbr },
      { offset: SECTOR, data: gptHeader(1, lastLba, 2, lastUsable, diskGuid, entriesCrc) },
      { offset: 2 * SECTOR, data: entries },
      ...fat.map((e) => ({ offset: FIRST_LBA * SECTOR + e.offset, data: e.data })),
      { offset: (lastLba - ENTRY_SECTORS) * SECTOR, data: entries },
      {
        offset: lastLba * SECTOR,
        data: gptHeader(lastLba, 1, lastLba - ENTRY_SECTORS, lastUsable, diskGuid, entriesCrc),
      },
    ],
  };
}

/** Writes the disk to `path` (sparse: only the extents). */
export async function writeEspDisk(path: string, spec: EspDiskSpec, key = espDiskKey(spec)): Promise<number> {
  const { size, extents } = espDiskExtents(spec, key);
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    for (const e of extents) await fh.write(e.data, 0, e.data.length, e.offset);
  } finally {
    await fh.close();
  }
  return size;
}

/**
 * The disk for `spec` in `cacheDir`, named by its content key: built once, then reused. Written
 * to a temporary name and renamed, so that a reader never sees half a disk and two builders of
 * the same disk do not clash.
 */
export async function cachedEspDisk(
  cacheDir: string,
  spec: EspDiskSpec,
): Promise<{ path: string; key: string; built: boolean }> {
  const key = espDiskKey(spec);
  const path = join(cacheDir, `${key}.img`);
  if (
    await stat(path).then(
      (s) => s.isFile(),
      () => false,
    )
  )
    return { path, key, built: false };
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeEspDisk(tmp, spec, key);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path, key, built: true };
}
