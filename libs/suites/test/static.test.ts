import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Arch, VerdictRecord } from '@vmfarm/protocol';
import { guidBytes } from '@vmfarm/image';
import { setFatEntry, writeQcow2 } from '@vmfarm/image/testing';
import { staticSuite, UnreadableImageError, type SuiteOutcome } from '../src';
import { AA64_APP, ARM_APP, buildDisk, pe, writeSparse } from './images';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmfarm-static-'));
});
after(() => rm(dir, { recursive: true, force: true }));

let n = 0;
async function check(image: Buffer, arch: Arch | null = null): Promise<SuiteOutcome> {
  const path = join(dir, `img${n++}`);
  await writeSparse(path, image);
  return runOn(path, arch);
}

function runOn(path: string, arch: Arch | null = null): Promise<SuiteOutcome> {
  return staticSuite.run({
    imagePath: path,
    arch,
    target: { id: 'static', kind: 'static', description: '', arch: ['aarch64', 'aarch32'] },
    signal: new AbortController().signal,
  });
}

function by(out: SuiteOutcome): Record<string, VerdictRecord> {
  assert.deepEqual(
    out.verdicts.map((v) => v.clause),
    [...staticSuite.clauses],
    'one verdict per clause, in order',
  );
  return Object.fromEntries(out.verdicts.map((v) => [v.clause, v]));
}

const letters = (out: SuiteOutcome) => out.verdicts.map((v) => v.verdict[0]).join('');

test('a partition overlapping the ESP fails IMG-ESP, not IMG-GPT', async () => {
  const disk = buildDisk({ extra: true });
  // Entry 2 (the Linux partition) starts 100 sectors inside the ESP; the entry CRCs are redone.
  const { crc32 } = await import('node:zlib');
  for (const [hdr, entries] of [
    [1, 2],
    [disk.length / 512 - 1, disk.length / 512 - 33],
  ]) {
    const e2 = entries * 512 + 128;
    disk.writeBigUInt64LE(disk.readBigUInt64LE(e2 + 32) - 100n, e2 + 32);
    disk.writeUInt32LE(crc32(disk.subarray(entries * 512, entries * 512 + 128 * 128)), hdr * 512 + 88);
    disk.writeUInt32LE(0, hdr * 512 + 16);
    disk.writeUInt32LE(crc32(disk.subarray(hdr * 512, hdr * 512 + 92)), hdr * 512 + 16);
  }
  const v = by(await check(disk));
  assert.equal(v['IMG-GPT'].verdict, 'PASS', v['IMG-GPT'].message);
  assert.match(String(v['IMG-GPT'].evidence.partitionProblems), /overlap/);
  assert.equal(v['IMG-ESP'].verdict, 'FAIL');
  assert.match(v['IMG-ESP'].message, /the ESP \(LBA 2048..\d+\) overlaps partition 2/);
});

test('a conformant aarch64 image passes every clause; arch is detected', async () => {
  const out = await check(buildDisk({ extra: true }));
  assert.equal(letters(out), 'PPPPPPP', JSON.stringify(out.verdicts, null, 1));
  assert.deepEqual(out.image, { format: 'raw', arch: 'aarch64' });
  const v = by(out);
  assert.equal(v['IMG-GPT'].evidence.sectorSize, 512);
  assert.equal(v['IMG-ESP-FAT'].evidence.fatType, 'FAT32');
  assert.equal(v['IMG-REMOVABLE-PATH'].evidence.path, '\\EFI\\BOOT\\BOOTAA64.EFI');
  assert.equal(v['IMG-EFI-APP'].evidence.machine, '0xAA64');
  assert.equal(v['IMG-EFI-APP'].evidence.subsystem, 10);
  assert.match(String(v['IMG-NO-VARS'].evidence.note), /BootOrder/);
});

test('aarch32: BOOTARM.EFI, PE32 0x01C2; lower-case long name counts', async () => {
  const out = await check(buildDisk({ fat: { files: { 'efi/boot/bootarm.efi': ARM_APP } } }));
  assert.equal(letters(out), 'PPPPPPP', JSON.stringify(out.verdicts, null, 1));
  assert.equal(out.image.arch, 'aarch32');
  assert.equal(by(out)['IMG-REMOVABLE-PATH'].evidence.longName, 'bootarm.efi');
});

test('a declared arch ignores the other removable path', async () => {
  const out = await check(buildDisk(), 'aarch32');
  const v = by(out);
  assert.equal(v['IMG-REMOVABLE-PATH'].verdict, 'FAIL');
  assert.match(v['IMG-REMOVABLE-PATH'].message, /BOOTARM.EFI is missing .*BOOTAA64.EFI is present/);
  assert.equal(v['IMG-EFI-APP'].verdict, 'FAIL');
  assert.equal(out.image.arch, 'aarch32');
});

test('4096-byte logical sectors pass', async () => {
  const out = await check(buildDisk({ sectorSize: 4096 }));
  assert.equal(letters(out), 'PPPPPPP', JSON.stringify(out.verdicts, null, 1));
  assert.equal(by(out)['IMG-GPT'].evidence.sectorSize, 4096);
});

test('a FAT16 ESP is a deviation; the path is still checked', async () => {
  const out = await check(buildDisk({ fat: { type: 'FAT16', totalSectors: 30000 } }));
  const v = by(out);
  assert.equal(v['IMG-ESP-FAT'].verdict, 'FAIL');
  assert.match(v['IMG-ESP-FAT'].message, /FAT16 \(\d+ clusters\).*requires FAT32/);
  assert.equal(v['IMG-REMOVABLE-PATH'].verdict, 'PASS');
  assert.equal(v['IMG-EFI-APP'].verdict, 'PASS');
});

test('NvVars and a bundled firmware volume are reported with their paths', async () => {
  const fv = Buffer.alloc(0x3000);
  guidBytes('8C8CE578-8A3D-4F1C-9935-896185C32DD3').copy(fv, 0x1010);
  fv.write('_FVH', 0x1028, 'latin1');
  const out = await check(
    buildDisk({
      fat: {
        files: { 'EFI/BOOT/BOOTAA64.EFI': AA64_APP, NvVars: Buffer.from('vars'), 'EFI/fw/flash.bin': fv },
      },
    }),
  );
  const v = by(out);
  assert.equal(v['IMG-NO-VARS'].verdict, 'FAIL');
  assert.match(v['IMG-NO-VARS'].message, /\\NvVars/);
  assert.equal(v['IMG-FW-NOT-BUNDLED'].verdict, 'FAIL');
  assert.equal(v['IMG-FW-NOT-BUNDLED'].level, 'SHOULD');
  assert.match(v['IMG-FW-NOT-BUNDLED'].message, /\\EFI\\fw\\flash.bin \(firmware volume/);
});

test('wrong machine, wrong subsystem and non-PE files fail IMG-EFI-APP with evidence', async () => {
  let v = by(
    await check(buildDisk({ fat: { files: { 'EFI/BOOT/BOOTAA64.EFI': pe({ machine: 0x8664 }) } } })),
  );
  assert.equal(v['IMG-EFI-APP'].verdict, 'FAIL');
  assert.equal(v['IMG-EFI-APP'].evidence.machineName, 'x86-64');
  v = by(await check(buildDisk({ fat: { files: { 'EFI/BOOT/BOOTAA64.EFI': pe({ subsystem: 11 }) } } })));
  assert.match(v['IMG-EFI-APP'].message, /subsystem is 11 \(EFI boot service driver\)/);
  v = by(await check(buildDisk({ fat: { files: { 'EFI/BOOT/BOOTAA64.EFI': Buffer.from('#!/bin/sh\n') } } })));
  assert.match(v['IMG-EFI-APP'].message, /not a PE\/COFF image: no 'MZ'/);
});

test('a looping cluster chain fails IMG-EFI-APP, never hangs', async () => {
  const out = await check(
    buildDisk({
      fat: { files: { 'EFI/BOOT/BOOTAA64.EFI': AA64_APP } },
      editFat: (fat) => {
        const c = fat.clusterOf.get('\\EFI\\BOOT\\BOOTAA64.EFI')!;
        setFatEntry(fat, 'FAT32', c + 3, c + 1);
      },
    }),
  );
  const v = by(out);
  assert.equal(v['IMG-EFI-APP'].verdict, 'FAIL');
  assert.match(v['IMG-EFI-APP'].message, /loops back/);
});

test('a FAT directory cycle fails IMG-ESP-FAT (it passed before), and the walk ends', async () => {
  const out = await check(
    buildDisk({
      editFat: (fat) => {
        // \EFI\BOOT names the clusters of \EFI: a cycle fsck.vfat reports.
        const at = fat.volume.indexOf(Buffer.from('BOOT       ', 'latin1'), fat.dataOffset);
        const efi = fat.clusterOf.get('\\EFI')!;
        fat.volume.writeUInt16LE(efi >>> 16, at + 20);
        fat.volume.writeUInt16LE(efi & 0xffff, at + 26);
      },
    }),
  );
  const v = by(out);
  assert.equal(v['IMG-ESP-FAT'].verdict, 'FAIL');
  assert.match(v['IMG-ESP-FAT'].message, /directory cycle: \\EFI\\BOOT leads back to \\EFI/);
});

test('empty, random and truncated inputs give FAIL (and SKIP) verdicts, not errors', async () => {
  let out = await check(Buffer.alloc(0));
  assert.equal(letters(out), 'FFFFFSS');
  assert.match(by(out)['IMG-NO-VARS'].message, /^nothing to search: there is no usable ESP/);
  assert.match(
    by(out)['IMG-ESP'].message,
    /no EFI System Partition can be found: no partition table could be read/,
  );
  const random = Buffer.alloc(4 << 20);
  for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
  out = await check(random);
  assert.equal(letters(out), 'FFFFFSS');
  const disk = buildDisk();
  out = await check(disk.subarray(0, disk.length - 4096));
  const v = by(out);
  assert.match(v['IMG-GPT'].message, /backup GPT header lost/);
  assert.equal(v['IMG-REMOVABLE-PATH'].verdict, 'PASS');
});

test('qcow2: the same checks through the tables; a backing file or a corrupt header FAILs every clause with the reason', async () => {
  const q = writeQcow2(buildDisk(), { compressed: [0, 1, 2] });
  let out = await check(q);
  assert.equal(letters(out), 'PPPPPPP', JSON.stringify(out.verdicts, null, 1));
  assert.equal(out.image.format, 'qcow2');
  const backing = Buffer.from(q);
  backing.writeBigUInt64BE(512n, 8);
  out = await check(backing);
  assert.equal(letters(out), 'FFFFFFF');
  assert.match(by(out)['IMG-GPT'].message, /qcow2 container cannot be read: .*backing file/);
  assert.match(by(out)['IMG-EFI-APP'].message, /no disk to check: .*backing file/);
  const header = Buffer.from(q);
  header.writeUInt32BE(0, 100); // header_length 0: qemu-img refuses it too
  out = await check(header);
  assert.equal(letters(out), 'FFFFFFF');
  assert.match(by(out)['IMG-GPT'].message, /header_length 0/);
});

test('missing input is unreadable; a missing xz tool is an ERROR', async () => {
  await assert.rejects(runOn(join(dir, 'nope')), UnreadableImageError);
  const raw = join(dir, 'x.img');
  await writeFile(raw, Buffer.alloc(1024));
  execFileSync('xz', ['-k', raw]);
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    const out = await runOn(`${raw}.xz`);
    assert.equal(letters(out), 'EEEEEEE');
    assert.match(out.verdicts[0].message, /xz/);
  } finally {
    process.env.PATH = path;
  }
});
