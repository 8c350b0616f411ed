import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource, ImageFormatError, Qcow2Source } from '../src';
import { qemuImgQcow2Args, writeQcow2 } from './builders';

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
      execFileSync('qemu-img', qemuImgQcow2Args(join(dir, 'raw'), join(dir, 'q'), args));
      const q = await Qcow2Source.open(new BufferSource(await readFile(join(dir, 'q'))));
      assert.deepEqual(await q.read(0, raw.length), raw, args.join(' '));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Mutations of a valid image, each refused by QEMU's qcow2_do_open (checked below with qemu-img). */
const QEMU_REFUSES: Array<[string, (b: Buffer) => void, RegExp]> = [
  ['header_length 0', (b) => b.writeUInt32BE(0, 100), /header_length 0 is below 104/],
  ['header_length 0xFFFFFFF0', (b) => b.writeUInt32BE(0xfffffff0, 100), /exceeds the cluster size/],
  [
    'refcount table of absurd size',
    (b) => b.writeUInt32BE(0x10000000, 56),
    /reference count table is too large/,
  ],
  ['no refcount table', (b) => b.writeUInt32BE(0, 56), /no reference count table/],
  ['L1 table of absurd size', (b) => b.writeUInt32BE(0x7fffffff, 36), /L1 table is too large/],
  [
    'L1 table not cluster aligned',
    (b) => b.writeBigUInt64BE(0x20200n, 40),
    /L1 table offset \d+ is not cluster aligned/,
  ],
  ['refcount_order 7', (b) => b.writeUInt32BE(7, 96), /refcount_order 7/],
  ['cluster_bits 22', (b) => b.writeUInt32BE(22, 20), /cluster_bits 22/],
  ['zlib with the compression type bit', (b) => b.writeBigUInt64BE(8n, 72), /feature bit is set/],
  [
    'a header extension longer than the header cluster',
    (b) => {
      b.writeUInt32BE(0x6803f857, 104);
      b.writeUInt32BE(0x20000, 108);
    },
    /header extension 0x6803f857 is too large/,
  ],
];

test('qcow2 headers QEMU refuses are refused, with the reason (and qemu-img agrees)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmfarm-qcow2-'));
  try {
    const base = writeQcow2(pattern(65536 * 4));
    for (const [what, change, reason] of QEMU_REFUSES) {
      const bad = Buffer.from(base);
      change(bad);
      await assert.rejects(Qcow2Source.open(new BufferSource(bad)), reason, what);
      await writeFile(join(dir, 'bad'), bad);
      assert.throws(
        () => execFileSync('qemu-img', ['info', '-f', 'qcow2', join(dir, 'bad')], { stdio: 'pipe' }),
        /Command failed/,
        `qemu-img opens the image with ${what}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('qcow2 metadata that overlaps, or tables that point into it, are corruption', async () => {
  const base = writeQcow2(pattern(65536 * 4));
  const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
    [
      'L1 on the refcount table',
      (b) => b.writeBigUInt64BE(65536n, 40),
      /reference count table and L1 table overlap/,
    ],
    ['L1 on the header', (b) => b.writeBigUInt64BE(0n, 40), /header and L1 table overlap/],
    ['refcount table past the file end', (b) => b.writeBigUInt64BE(BigInt(b.length), 48), /outside the file/],
    [
      'L2 table on the refcount table',
      (b) => b.writeBigUInt64BE((1n << 63n) | 65536n, 2 * 65536),
      /L2 table at 65536 overlaps the reference count table/,
    ],
    [
      'data cluster on the L1 table',
      (b) => b.writeBigUInt64BE((1n << 63n) | BigInt(2 * 65536), 3 * 65536),
      /data cluster at 131072 overlaps the L1 table/,
    ],
    [
      'snapshot table outside the file',
      (b) => (b.writeUInt32BE(3, 60), b.writeBigUInt64BE(1n << 40n, 64)),
      /snapshot table/,
    ],
  ];
  for (const [what, change, reason] of cases) {
    const bad = Buffer.from(base);
    change(bad);
    await assert.rejects(
      (async () => {
        const q = await Qcow2Source.open(new BufferSource(bad));
        await q.read(0, q.size);
      })(),
      reason,
      what,
    );
  }
});
