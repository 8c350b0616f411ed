import { ImageFormatError } from './errors';
import { FatVolume } from './fat';
import { analyzeGpt, partitionRange } from './gpt';
import { ESP_TYPE_GUID } from './guid';
import { openImage } from './open';
import { SliceSource } from './source';

/** The architectures a portable image names by its removable-media path (protocol's Arch). */
export type ImageArch = 'aarch64' | 'aarch32';

/** UEFI 2.4A 3.5.1.1: the removable-media boot file of each architecture. */
export const REMOVABLE_PATHS: Record<ImageArch, string> = {
  aarch64: '\\EFI\\BOOT\\BOOTAA64.EFI',
  aarch32: '\\EFI\\BOOT\\BOOTARM.EFI',
};

/**
 * The architecture an image's removable path names (BOOTAA64.EFI before BOOTARM.EFI), or null when
 * the image cannot tell (no ESP, no boot file, unreadable). Reads the partition table, the ESP's
 * boot sector and two directories: what an upload plans a matrix with, without the static suite.
 */
export async function detectArch(imagePath: string): Promise<ImageArch | null> {
  let image;
  try {
    image = await openImage(imagePath);
  } catch (err) {
    if (err instanceof ImageFormatError) return null;
    throw err;
  }
  try {
    const gpt = await analyzeGpt(image.disk);
    const esp = gpt.partitions.find((p) => p.typeGuid === ESP_TYPE_GUID);
    if (!esp || !gpt.sectorSize || esp.firstLba > esp.lastLba) return null;
    const range = partitionRange(esp, gpt.sectorSize);
    if (range.offset + range.length > image.disk.size) return null;
    const fat = await FatVolume.open(new SliceSource(image.disk, range.offset, range.length));
    // As IMG-REMOVABLE-PATH detects it: the name alone (a directory of that name fails there).
    for (const arch of ['aarch64', 'aarch32'] as const)
      if (await fat.lookup(REMOVABLE_PATHS[arch])) return arch;
    return null;
  } catch (err) {
    if (err instanceof ImageFormatError) return null;
    throw err;
  } finally {
    await image.close();
  }
}
