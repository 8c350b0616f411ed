import { analyzeGpt, BufferSource, ImageFormatError, overlapping, partitionRange } from '@vmfarm/image';
import { buildGpt, ESP_GUID, LINUX_GUID } from '@vmfarm/image/testing';
import { basename } from 'node:path';
import type { Target } from '../engine';
import { corpusFiles, ends } from '../fixtures';
import type { Seed } from '../mutate';

const FRONT = 34 * 512;
const BACK = 33 * 512;

export const gpt: Target = {
  name: 'gpt',
  async seeds(): Promise<Seed[]> {
    const parts = [
      { type: ESP_GUID, first: 34, last: 100, name: 'EFI system' },
      { type: LINUX_GUID, first: 101, last: 222, name: 'root' },
    ];
    const small = buildGpt({ totalSectors: 256, partitions: parts });
    const big = buildGpt({
      sectorSize: 4096,
      totalSectors: 64,
      partitions: [{ type: ESP_GUID, first: 6, last: 40 }],
    });
    const seeds: Seed[] = [
      {
        name: 'generated-512',
        data: small,
        hot: [
          [0, FRONT],
          [small.length - BACK, small.length],
        ],
      },
      {
        name: 'generated-4k',
        data: big,
        hot: [
          [0, 6 * 4096],
          [big.length - 5 * 4096, big.length],
        ],
      },
    ];
    // Real disks made by sgdisk and fdisk: their first and last sectors side by side, so the
    // backup header names an LBA past the end (the truncated-disk paths).
    for (const p of corpusFiles(/^(good-aa64|gpt-hybrid-mbr|gpt-mbr-only)\.raw$/, Infinity)) {
      const data = await ends(p, FRONT, BACK);
      if (data) seeds.push({ name: basename(p), data, hot: [[0, data.length]] });
    }
    return seeds;
  },
  dictionary: [Buffer.from('EFI PART', 'latin1'), Buffer.from([0x55, 0xaa]), Buffer.from([0xee])],
  async run(input) {
    const g = await analyzeGpt(new BufferSource(input));
    for (const p of g.partitions) {
      overlapping(p, g.partitions);
      if (g.sectorSize && p.firstLba <= p.lastLba) partitionRange(p, g.sectorSize);
    }
  },
  expected: (err) => err instanceof ImageFormatError,
};
