/** Whole-disk test images for the static suite, composed from the libs/image builders. */
import { open } from 'node:fs/promises';
import {
  buildFat,
  buildGpt,
  buildPe,
  ESP_GUID,
  LINUX_GUID,
  type BuiltFat,
  type FatSpec,
  type PeSpec,
} from '@vmfarm/image/testing';

export const AA64_APP = buildPe({ machine: 0xaa64, magic: 0x20b });
export const ARM_APP = buildPe({ machine: 0x1c2, magic: 0x10b });

export interface DiskSpec {
  fat?: Partial<FatSpec>;
  sectorSize?: 512 | 4096;
  /** Edits the FAT volume before it is placed (break chains, copies). */
  editFat?: (fat: BuiltFat) => void;
  /** Extra partitions after the ESP. */
  extra?: boolean;
}

/** A GPT disk with a FAT32 ESP holding `files` (default: an aarch64 app at the removable path). */
export function buildDisk(spec: DiskSpec = {}): Buffer {
  const fat = buildFat({
    type: 'FAT32',
    totalSectors: 66600,
    files: { 'EFI/BOOT/BOOTAA64.EFI': AA64_APP },
    ...spec.fat,
  } as FatSpec);
  spec.editFat?.(fat);
  const ss = spec.sectorSize ?? 512;
  const espSectors = Math.ceil(fat.volume.length / ss);
  const first = ss === 512 ? 2048 : 256;
  const last = first + espSectors - 1;
  return buildGpt({
    sectorSize: ss,
    totalSectors: last + 1 + (spec.extra ? 2048 : 0) + 2048,
    partitions: [
      { type: ESP_GUID, first, last, name: 'EFI System', data: fat.volume },
      ...(spec.extra ? [{ type: LINUX_GUID, first: last + 1, last: last + 2048, name: 'root' }] : []),
    ],
  });
}

export function pe(spec: PeSpec): Buffer {
  return buildPe(spec);
}

const ZERO = Buffer.alloc(65536);

/** Writes `data` sparsely (zero 64 KiB blocks are skipped) so test images cost little disk. */
export async function writeSparse(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const block = 65536;
    for (let off = 0; off < data.length; off += block) {
      const chunk = data.subarray(off, off + block);
      if (!chunk.equals(ZERO.subarray(0, chunk.length))) await fh.write(chunk, 0, chunk.length, off);
    }
    await fh.truncate(data.length);
  } finally {
    await fh.close();
  }
}
