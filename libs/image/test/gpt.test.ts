import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeGpt, BufferSource, MAX_ENTRY_ARRAY_BYTES } from '../src';
import { buildGpt, ESP_GUID, fixHeaderCrc, gptLayout, LINUX_GUID } from './builders';

const spec = {
  totalSectors: 4096,
  partitions: [
    { type: ESP_GUID, first: 34, last: 2047 },
    { type: LINUX_GUID, first: 2048, last: 4000 },
  ],
};

test('a well-formed GPT (512-byte sectors) has no problems', async () => {
  const g = await analyzeGpt(new BufferSource(buildGpt(spec)));
  assert.deepEqual(g.problems, []);
  assert.equal(g.sectorSize, 512);
  assert.equal(g.partitions.length, 2);
  assert.equal(g.partitions[0].typeGuid, ESP_GUID);
  assert.equal(g.primary?.alternateLba, 4095);
  assert.equal(g.backup?.myLba, 4095);
  assert.equal(g.primary?.headerCrc.expected, g.primary?.headerCrc.found);
});

test('4096-byte logical sectors are detected', async () => {
  const s = {
    sectorSize: 4096 as const,
    totalSectors: 1024,
    partitions: [{ type: ESP_GUID, first: 6, last: 500 }],
  };
  const g = await analyzeGpt(new BufferSource(buildGpt(s)));
  assert.deepEqual(g.problems, []);
  assert.equal(g.sectorSize, 4096);
  assert.equal(g.partitions[0].firstLba, 6);
});

test('a corrupted header CRC is reported with expected and found values', async () => {
  const disk = buildGpt(spec);
  disk.writeUInt32LE(0xdeadbeef, 512 + 16);
  const g = await analyzeGpt(new BufferSource(disk));
  assert.match(g.problems.join('\n'), /primary header CRC32 mismatch: header says 0xdeadbeef/);
  assert.equal(g.primary?.headerCrc.expected, '0xdeadbeef');
  assert.notEqual(g.primary?.headerCrc.found, '0xdeadbeef');
  // The backup still gives the partitions.
  assert.equal(g.partitionsFrom, 'backup');
  assert.equal(g.partitions.length, 2);
});

test('a corrupted entry array is caught by its CRC', async () => {
  const disk = buildGpt(spec);
  disk[2 * 512 + 40] ^= 1;
  const g = await analyzeGpt(new BufferSource(disk));
  assert.match(g.problems.join('\n'), /primary partition entry array CRC32 mismatch/);
});

test('overlapping partitions and partitions outside the usable range', async () => {
  const g = await analyzeGpt(
    new BufferSource(
      buildGpt({
        totalSectors: 4096,
        partitions: [
          { type: ESP_GUID, first: 34, last: 3000 },
          { type: LINUX_GUID, first: 2048, last: 4094 },
        ],
      }),
    ),
  );
  assert.deepEqual(g.problems, []);
  const text = g.partitionProblems.join('\n');
  assert.match(text, /partitions 1 \(LBA 34..3000\) and 2 \(LBA 2048..4094\) overlap/);
  assert.match(text, /partition 2 \(LBA 2048..4094\) lies outside the usable range 34..4062/);
});

test('a truncated image reports the lost backup header', async () => {
  const disk = buildGpt(spec).subarray(0, 3000 * 512);
  const g = await analyzeGpt(new BufferSource(disk));
  assert.match(g.problems.join('\n'), /backup GPT header lost: .* puts the backup at LBA 4095.*truncated/);
  assert.equal(g.partitions.length, 2);
});

test('a backup inconsistent with the primary is reported', async () => {
  const disk = buildGpt(spec);
  const L = gptLayout(spec);
  disk.writeBigUInt64LE(40n, L.lastLba * 512 + 40); // first usable LBA
  fixHeaderCrc(disk, L.lastLba);
  const g = await analyzeGpt(new BufferSource(disk));
  assert.match(g.problems.join('\n'), /backup header firstUsableLba 40 differs from the primary's 34/);
});

test('absurd sizes do not allocate', async () => {
  const disk = buildGpt(spec);
  disk.writeUInt32LE(0xffffffff, 512 + 80); // entry count
  fixHeaderCrc(disk, 1);
  let g = await analyzeGpt(new BufferSource(disk));
  assert.match(g.problems.join('\n'), new RegExp(`absurd \\(limit ${MAX_ENTRY_ARRAY_BYTES}\\)`));
  const d2 = buildGpt(spec);
  d2.writeUInt32LE(0x7fffffff, 512 + 12); // header size
  g = await analyzeGpt(new BufferSource(d2));
  assert.match(g.problems.join('\n'), /primary header size 2147483647 is outside 92..512/);
  const d3 = buildGpt(spec);
  d3.writeUInt32LE(100, 512 + 84); // entry size
  fixHeaderCrc(d3, 1);
  g = await analyzeGpt(new BufferSource(d3));
  assert.match(g.problems.join('\n'), /entry size 100 is not 128·2\^n/);
});

test('no GPT: empty, tiny, random and MBR-only inputs give problems, not exceptions', async () => {
  assert.match((await analyzeGpt(new BufferSource(Buffer.alloc(0)))).problems[0], /0 bytes/);
  const random = Buffer.alloc(1 << 20);
  for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
  const g = await analyzeGpt(new BufferSource(random));
  assert.equal(g.partitions.length, 0);
  assert.match(g.problems.join('\n'), /no GPT header/);
  const mbr = Buffer.alloc(1 << 20);
  mbr.writeUInt16LE(0xaa55, 510);
  mbr[446 + 4] = 0x0c;
  assert.match(
    (await analyzeGpt(new BufferSource(mbr))).problems.join('\n'),
    /without a protective 0xEE entry/,
  );
});
