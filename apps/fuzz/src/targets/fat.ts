import { BufferSource, FatVolume, ImageFormatError } from '@vmfarm/image';
import { buildFat, buildPe } from '@vmfarm/image/testing';
import type { Target } from '../engine';
import type { Seed } from '../mutate';

const files = {
  'EFI/BOOT/BOOTAA64.EFI': buildPe({ size: 0x3000 }),
  'EFI/debian/grubaa64.efi': Buffer.alloc(5000, 0x41),
  'EFI/Linux/A Long File Name.conf': Buffer.from('title Debian\n'),
  'startup.nsh': Buffer.from('fs0:\\EFI\\BOOT\\BOOTAA64.EFI\r\n'),
};

export const fat: Target = {
  name: 'fat',
  async seeds(): Promise<Seed[]> {
    const seeds: Seed[] = [];
    for (const [type, totalSectors] of [
      ['FAT12', 2048],
      ['FAT16', 9000],
      ['FAT32', 70000],
    ] as const) {
      const v = buildFat({ type, totalSectors, files, dirs: ['EFI/empty'] });
      // Only the metadata and the first clusters matter; the rest of a big volume is left out.
      const data = v.volume.subarray(0, Math.min(v.volume.length, v.dataOffset + 64 * v.clusterSize));
      seeds.push({
        name: `generated-${type}`,
        data: Buffer.from(data),
        hot: [
          [0, 512],
          [v.fatOffset, v.fatOffset + 512],
          [v.fatOffset + v.fatBytes, v.fatOffset + v.fatBytes + 512],
          [v.dataOffset - (type === 'FAT32' ? 0 : 512 * 32), v.dataOffset + 16 * v.clusterSize],
        ],
      });
    }
    return seeds;
  },
  dictionary: [
    Buffer.from('.          ', 'latin1'),
    Buffer.from('..         ', 'latin1'),
    Buffer.from([0x0f]),
    Buffer.from([0x10]),
  ],
  async run(input) {
    const fs = await FatVolume.open(new BufferSource(input));
    // What the ESP check does: FAT copies, the bounded walk, each file's head, the removable path.
    await fs.compareFats();
    const walk = await fs.walk({ maxEntries: 5000, maxDepth: 16 });
    for (const e of walk.entries) {
      if (e.isDirectory) continue;
      try {
        await fs.readFile(e, 4096);
      } catch (err) {
        if (!(err instanceof ImageFormatError)) throw err;
      }
    }
    await fs.lookup('\\EFI\\BOOT\\BOOTAA64.EFI');
  },
  expected: (err) => err instanceof ImageFormatError,
};
