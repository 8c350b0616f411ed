import { BufferSource, ImageFormatError, Qcow2Source } from '@vmfarm/image';
import { buildGpt, ESP_GUID, qemuImgQcow2Args, writeQcow2 } from '@vmfarm/image/testing';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../engine';
import type { Seed } from '../mutate';

/** Header cluster, L1 table, refcount table and the first L2 table: where qcow2 metadata lives. */
function hotRanges(b: Buffer): Array<[number, number]> {
  const hot: Array<[number, number]> = [[0, 512]];
  if (b.length < 72) return hot;
  const cs = 2 ** Math.min(21, b.readUInt32BE(20));
  const l1 = Number(b.readBigUInt64BE(40));
  const rt = Number(b.readBigUInt64BE(48));
  if (l1 < b.length) {
    hot.push([l1, l1 + Math.min(cs, b.readUInt32BE(36) * 8)]);
    const l2 = Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
    if (l2 > 0 && l2 < b.length) hot.push([l2, l2 + 512]);
  }
  if (rt > 0 && rt < b.length) hot.push([rt, rt + 64]);
  return hot;
}

/**
 * The same disk as qemu-img writes it (v2 and v3, 512 B and 4 KiB clusters, compressed), when
 * qemu-img is installed: small real files, where the corpus's are near a megabyte each.
 */
function fromQemuImg(disk: Buffer): Seed[] {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-fuzz-qcow2-'));
  try {
    writeFileSync(join(dir, 'raw'), disk);
    const variants: Array<[string, string[]]> = [
      ['qemu-img-v3-4k', ['-o', 'cluster_size=4096']],
      ['qemu-img-v2-512', ['-o', 'compat=0.10,cluster_size=512']],
      ['qemu-img-v3-compressed-4k', ['-c', '-o', 'cluster_size=4096']],
    ];
    const out: Seed[] = [];
    for (const [name, args] of variants) {
      const r = spawnSync('qemu-img', qemuImgQcow2Args(join(dir, 'raw'), join(dir, name), args));
      if (r.status === 0) out.push({ name, data: readFileSync(join(dir, name)) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const qcow2: Target = {
  name: 'qcow2',
  async seeds(): Promise<Seed[]> {
    const disk = buildGpt({
      totalSectors: 2048,
      partitions: [{ type: ESP_GUID, first: 34, last: 1000, data: Buffer.alloc(512, 0xe5) }],
    });
    const generated: Seed[] = [
      { name: 'generated-v3-64k', data: writeQcow2(disk) },
      { name: 'generated-v2-4k', data: writeQcow2(disk, { version: 2, clusterBits: 12 }) },
      { name: 'generated-v3-compressed', data: writeQcow2(disk, { clusterBits: 12, compressed: [0, 1, 2] }) },
      { name: 'generated-v3-zero', data: writeQcow2(disk, { clusterBits: 9, zeroFlag: [3, 4] }) },
    ];
    return [...generated, ...fromQemuImg(disk)].map((s) => ({ ...s, hot: hotRanges(s.data) }));
  },
  dictionary: [Buffer.from('QFI\xfb', 'latin1'), Buffer.from([0, 0, 0, 3]), Buffer.from('DATA', 'latin1')],
  async run(input) {
    const disk = await Qcow2Source.open(new BufferSource(input));
    try {
      // What a static check touches: the partition table at both ends of the guest disk.
      await disk.read(0, Math.min(disk.size, 64 * 1024));
      if (disk.size > 4096) await disk.read(disk.size - 4096, 4096);
    } finally {
      await disk.close();
    }
  },
  expected: (err) => err instanceof ImageFormatError,
};
