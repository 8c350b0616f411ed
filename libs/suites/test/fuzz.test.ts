import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { staticSuite } from '../src';
import { buildDisk, writeSparse } from './images';

/** Deterministic xorshift so a failure reproduces. */
function rng(seed: number) {
  let x = seed;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

test('corrupted metadata gives seven verdicts and no ERROR, never a crash or a hang', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmfarm-fuzz-'));
  try {
    const base = buildDisk();
    const espStart = 2048 * 512;
    // GPT header and entries, ESP boot sector + FATs + root directory, the backup GPT.
    const regions: Array<[number, number]> = [
      [0, 34 * 512],
      [espStart, espStart + 600 * 1024],
      [base.length - 33 * 512, base.length],
    ];
    const next = rng(12345);
    for (let i = 0; i < 30; i++) {
      const disk = Buffer.from(base);
      for (let k = 1 + next(8); k > 0; k--) {
        const [a, b] = regions[next(regions.length)];
        const at = a + next(b - a);
        disk[at] = next(4) === 0 ? 0xff : next(256);
        if (next(3) === 0)
          disk.writeUInt32LE(next(2) ? 0xffffffff : next(1 << 30), Math.min(at, disk.length - 4));
      }
      const path = join(dir, `f${i}`);
      await writeSparse(path, disk);
      const out = await staticSuite.run({
        imagePath: path,
        arch: null,
        target: { id: 'static', kind: 'static', description: '', arch: ['aarch64'] },
        signal: new AbortController().signal,
      });
      assert.equal(out.verdicts.length, 7);
      assert.deepEqual(
        out.verdicts.filter((v) => v.verdict === 'ERROR'),
        [],
        `iteration ${i}`,
      );
      await rm(path);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
