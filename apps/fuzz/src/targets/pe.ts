import {
  analyzeGpt,
  ESP_TYPE_GUID,
  FatVolume,
  ImageFormatError,
  openImage,
  parsePe,
  partitionRange,
  peHeaderBytes,
  SliceSource,
} from '@vmfarm/image';
import { buildPe } from '@vmfarm/image/testing';
import { basename } from 'node:path';
import type { Target } from '../engine';
import { corpusFiles } from '../fixtures';
import type { Seed } from '../mutate';

/** The removable-path binary of a corpus disk, read with the farm's own readers. */
async function bootFile(path: string): Promise<Buffer | null> {
  const img = await openImage(path);
  try {
    const g = await analyzeGpt(img.disk);
    const esp = g.partitions.find((p) => p.typeGuid === ESP_TYPE_GUID);
    if (!esp || !g.sectorSize) return null;
    const r = partitionRange(esp, g.sectorSize);
    const fs = await FatVolume.open(new SliceSource(img.disk, r.offset, r.length));
    const e = (await fs.lookup('\\EFI\\BOOT\\BOOTAA64.EFI')) ?? (await fs.lookup('\\EFI\\BOOT\\BOOTARM.EFI'));
    return e ? await fs.readFile(e) : null;
  } finally {
    await img.close();
  }
}

export const pe: Target = {
  name: 'pe',
  async seeds(): Promise<Seed[]> {
    const seeds: Seed[] = [
      { name: 'generated-pe32+', data: buildPe() },
      { name: 'generated-pe32', data: buildPe({ magic: 0x10b, machine: 0x1c2 }) },
    ];
    // systemd-boot for arm64, armhf and amd64 from Debian, as the corpus disks hold them.
    for (const p of corpusFiles(/^(good-aa64|good-aa32|app-x86-64-as-bootaa64)\.raw$/, Infinity)) {
      const data = await bootFile(p);
      if (data) seeds.push({ name: basename(p), data });
    }
    return seeds.map((s) => ({ ...s, hot: [[0, Math.min(s.data.length, 1024)]] }));
  },
  dictionary: [Buffer.from('MZ', 'latin1'), Buffer.from('PE\0\0', 'latin1'), Buffer.from([0x64, 0xaa])],
  run(input) {
    // As the EFI application check reads it: the first 4 KiB, then as much as the headers need.
    const need = Math.min(peHeaderBytes(input.subarray(0, 4096)), input.length, 1024 * 1024);
    parsePe(input.subarray(0, Math.max(need, Math.min(4096, input.length))), input.length);
  },
  expected: (err) => err instanceof ImageFormatError,
};
