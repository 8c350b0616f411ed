import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource, ImageFormatError, Qcow2Source } from '../src';
import { writeQcow2 } from './builders';

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) b.write(`block ${i}`, i, 'latin1');
  if (size > 5 * 65536) b.fill(0, 3 * 65536, 5 * 65536); // two all-zero clusters
  return b;
}

test('qcow2 v2 and v3: allocated, unallocated, zero-flagged and compressed clusters', async () => {
  const raw = pattern(10 * 65536 + 1000);
  for (const spec of [
    { version: 2 as const, compressed: [1, 6] },
    { version: 3 as const, compressed: [2], zeroFlag: [4, 9] },
  ]) {
    const expected = Buffer.from(raw);
    for (const z of spec.zeroFlag ?? []) expected.fill(0, z * 65536, (z + 1) * 65536);
    const q = await Qcow2Source.open(new BufferSource(writeQcow2(raw, spec)));
    assert.equal(q.size, raw.length);
    assert.deepEqual(await q.read(0, raw.length), expected);
    assert.deepEqual(await q.read(65530, 20), expected.subarray(65530, 65550));
    await assert.rejects(q.read(raw.length - 1, 2), /truncated/);
  }
});

test('qcow2 features a portable image may not use are refused by name', async () => {
  const base = writeQcow2(pattern(65536 * 2));
  const backing = Buffer.from(base);
  backing.writeBigUInt64BE(512n, 8);
  await assert.rejects(Qcow2Source.open(new BufferSource(backing)), /backing file/);
  const enc = Buffer.from(base);
  enc.writeUInt32BE(1, 32);
  await assert.rejects(Qcow2Source.open(new BufferSource(enc)), /encrypted/);
  const ext = Buffer.from(base);
  ext.writeBigUInt64BE(4n, 72);
  await assert.rejects(Qcow2Source.open(new BufferSource(ext)), /external data file/);
  const bigL1 = Buffer.from(base);
  bigL1.writeBigUInt64BE(1n << 60n, 24);
  await assert.rejects(Qcow2Source.open(new BufferSource(bigL1)), ImageFormatError);
});

test('reads what qemu-img writes (compressed, cluster sizes)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmfarm-qcow2-'));
  try {
    const raw = pattern(3 * 1024 * 1024 + 512);
    await writeFile(join(dir, 'raw'), raw);
    for (const args of [['-c'], ['-o', 'cluster_size=4096'], ['-o', 'compat=0.10']]) {
      execFileSync('qemu-img', [
        'convert',
        '-f',
        'raw',
        '-O',
        'qcow2',
        ...args,
        join(dir, 'raw'),
        join(dir, 'q'),
      ]);
      const q = await Qcow2Source.open(new BufferSource(await readFile(join(dir, 'q'))));
      assert.deepEqual(await q.read(0, raw.length), raw, args.join(' '));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
