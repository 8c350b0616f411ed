import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource, FatVolume, ImageFormatError, parseBootSector } from '../src';
import { buildFat, setFatEntry } from './builders';

const files = {
  'EFI/BOOT/BOOTAA64.EFI': Buffer.alloc(3000, 7),
  'EFI/debian/grubaa64.efi': Buffer.from('grub'),
  'a very long file name.txt': Buffer.from('hello world'),
};

test('FAT32: layout, long and short names, case-insensitive lookup, content', async () => {
  const built = buildFat({ type: 'FAT32', totalSectors: 70000, files });
  const fat = await FatVolume.open(new BufferSource(built.volume));
  assert.equal(fat.layout.type, 'FAT32');
  assert.equal(fat.layout.clusterCount, built.clusterCount);
  assert.deepEqual(fat.layout.problems, []);
  assert.deepEqual(await fat.compareFats(), []);
  const e = await fat.lookup('\\efi\\boot\\bootaa64.efi');
  assert.ok(e);
  assert.equal(e.path, '\\EFI\\BOOT\\BOOTAA64.EFI');
  assert.deepEqual(await fat.readFile(e), files['EFI/BOOT/BOOTAA64.EFI']);
  const g = await fat.lookup('/EFI/DEBIAN/GRUBAA64.EFI');
  assert.equal(g?.longName, 'grubaa64.efi');
  assert.equal(g?.shortName, 'GRUBAA~1.EFI');
  assert.ok(await fat.lookup('EFI/debian/GRUBAA~1.EFI'));
  const long = await fat.lookup('A VERY LONG FILE NAME.TXT');
  assert.equal((await fat.readFile(long!)).toString(), 'hello world');
  assert.equal(await fat.lookup('\\EFI\\BOOT\\BOOTARM.EFI'), null);
  assert.equal(await fat.lookup('\\EFI\\BOOT\\BOOTAA64.EFI\\X'), null);
  const walk = await fat.walk();
  assert.deepEqual(walk.entries.map((x) => x.path).sort(), [
    '\\EFI',
    '\\EFI\\BOOT',
    '\\EFI\\BOOT\\BOOTAA64.EFI',
    '\\EFI\\debian',
    '\\EFI\\debian\\grubaa64.efi',
    '\\a very long file name.txt',
  ]);
});

test('FAT16 and FAT12 by the Microsoft cluster-count rule', async () => {
  for (const [type, totalSectors] of [
    ['FAT16', 20000],
    ['FAT12', 4000],
  ] as const) {
    const built = buildFat({ type, totalSectors, files });
    const fat = await FatVolume.open(new BufferSource(built.volume));
    assert.equal(fat.layout.type, type);
    const e = await fat.lookup('EFI/BOOT/BOOTAA64.EFI');
    assert.deepEqual(await fat.readFile(e!), files['EFI/BOOT/BOOTAA64.EFI']);
  }
});

test('a looping cluster chain is an error, never a hang', async () => {
  const built = buildFat({ type: 'FAT32', totalSectors: 70000, files });
  const first = built.clusterOf.get('\\EFI\\BOOT\\BOOTAA64.EFI')!;
  setFatEntry(built, 'FAT32', first + 1, first); // 3000 bytes = 6 clusters: loop after 2
  const fat = await FatVolume.open(new BufferSource(built.volume));
  const e = await fat.lookup('EFI/BOOT/BOOTAA64.EFI');
  await assert.rejects(fat.readFile(e!), /cluster chain loops back to cluster/);
  // A directory whose chain loops onto itself.
  const dir = built.clusterOf.get('\\EFI')!;
  setFatEntry(built, 'FAT32', dir, dir);
  const fat2 = await FatVolume.open(new BufferSource(built.volume));
  await assert.rejects(fat2.lookup('EFI/BOOT'), /directory \\EFI: cluster chain loops/);
  const walk = await fat2.walk();
  assert.match(walk.problems.join(), /loops/);
});

test('a chain ending early and a free link are errors', async () => {
  const built = buildFat({ type: 'FAT16', totalSectors: 20000, files });
  const first = built.clusterOf.get('\\EFI\\BOOT\\BOOTAA64.EFI')!;
  setFatEntry(built, 'FAT16', first + 1, 0xffff);
  const fat = await FatVolume.open(new BufferSource(built.volume));
  await assert.rejects(
    fat.readFile((await fat.lookup('EFI/BOOT/BOOTAA64.EFI'))!),
    /ends after 2 clusters, 6 needed/,
  );
  setFatEntry(built, 'FAT16', first + 1, 0);
  const fat2 = await FatVolume.open(new BufferSource(built.volume));
  await assert.rejects(fat2.readFile((await fat2.lookup('EFI/BOOT/BOOTAA64.EFI'))!), /free cluster/);
});

test('FAT copies that disagree are reported', async () => {
  const built = buildFat({ type: 'FAT32', totalSectors: 70000, files });
  built.volume[built.fatOffset + built.fatBytes + 100] ^= 0xff;
  const fat = await FatVolume.open(new BufferSource(built.volume));
  assert.deepEqual(await fat.compareFats(), ['FAT copy 2 differs from copy 1 at FAT byte offset 100']);
});

test('broken boot sectors', () => {
  assert.throws(() => parseBootSector(Buffer.alloc(512), 1 << 20), ImageFormatError);
  const built = buildFat({ type: 'FAT32', totalSectors: 70000, files });
  const b = Buffer.from(built.volume.subarray(0, 512));
  b[13] = 3;
  assert.throws(() => parseBootSector(b, built.volume.length), /sectors per cluster 3/);
  const c = Buffer.from(built.volume.subarray(0, 512));
  c.writeUInt16LE(0, 510);
  assert.match(parseBootSector(c, built.volume.length).problems.join(), /signature is 0x0, not 0x55AA/);
  const d = Buffer.from(built.volume.subarray(0, 512));
  d.writeUInt32LE(0xffffffff, 36); // FAT size swallowing the volume
  assert.throws(() => parseBootSector(d, built.volume.length), /leave no data area/);
});

test('a volume made by mkfs.vfat and mcopy reads back (long names, lower case)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmfarm-fat-'));
  try {
    const img = join(dir, 'esp.img');
    const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });
    run('truncate', ['-s', '40M', img]);
    run('mkfs.vfat', ['-F', '32', img]);
    const payload = join(dir, 'payload');
    await writeFile(payload, Buffer.alloc(70000, 9));
    run('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT']);
    run('mcopy', ['-i', img, payload, '::/EFI/BOOT/BOOTAA64.EFI']);
    run('mcopy', ['-i', img, payload, '::/EFI/BOOT/Shim With Long Name.efi']);
    const fat = await FatVolume.open(new BufferSource(await readFile(img)));
    assert.equal(fat.layout.type, 'FAT32');
    assert.deepEqual(await fat.compareFats(), []);
    const e = await fat.lookup('efi/boot/shim with long name.EFI');
    assert.equal(e?.longName, 'Shim With Long Name.efi');
    assert.equal((await fat.readFile(e!)).length, 70000);
    assert.deepEqual(
      await fat.readFile((await fat.lookup('EFI/BOOT/BOOTAA64.EFI'))!),
      Buffer.alloc(70000, 9),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Points the short directory entry named `name11` (first match) at `cluster`. */
function repoint(volume: Buffer, dataOffset: number, name11: string, cluster: number): void {
  const at = volume.indexOf(Buffer.from(name11, 'latin1'), dataOffset - 512 * 32);
  assert.ok(at >= 0, `no entry ${name11}`);
  volume.writeUInt16LE(cluster >>> 16, at + 20);
  volume.writeUInt16LE(cluster & 0xffff, at + 26);
}

test('a directory that leads back to an ancestor is a cycle, reported once and not followed', async () => {
  for (const type of ['FAT32', 'FAT16', 'FAT12'] as const) {
    const built = buildFat({ type, totalSectors: { FAT32: 70000, FAT16: 9000, FAT12: 2048 }[type], files });
    // \EFI\BOOT now names the clusters of \EFI.
    repoint(built.volume, built.dataOffset, 'BOOT       ', built.clusterOf.get('\\EFI') as number);
    const walk = await (await FatVolume.open(new BufferSource(built.volume))).walk();
    assert.deepEqual(
      walk.problems.filter((p) => /cycle/.test(p)),
      [`directory cycle: \\EFI\\BOOT leads back to \\EFI (cluster ${built.clusterOf.get('\\EFI')})`],
      type,
    );
    assert.equal(walk.truncated, false);
  }
  const built = buildFat({ type: 'FAT32', totalSectors: 70000, files });
  repoint(built.volume, built.dataOffset, 'BOOT       ', 2); // the FAT32 root directory
  const walk = await (await FatVolume.open(new BufferSource(built.volume))).walk();
  assert.ok(
    walk.problems.includes('directory cycle: \\EFI\\BOOT leads back to \\ (cluster 2)'),
    walk.problems.join('; '),
  );
});

test('clusters shared by two chains are cross-linked', async () => {
  const built = buildFat({ type: 'FAT16', totalSectors: 9000, files });
  // The last of BOOTAA64.EFI's 6 clusters: one cluster, as grubaa64.efi's size needs.
  const boot = (built.clusterOf.get('\\EFI\\BOOT\\BOOTAA64.EFI') as number) + 5;
  repoint(built.volume, built.dataOffset, 'GRUBAA~1EFI', boot);
  const walk = await (await FatVolume.open(new BufferSource(built.volume))).walk();
  assert.deepEqual(walk.problems, [
    `cross-linked clusters: \\EFI\\debian\\grubaa64.efi and \\EFI\\BOOT\\BOOTAA64.EFI share cluster ${boot}`,
  ]);
  // A file on a directory's clusters.
  const built2 = buildFat({ type: 'FAT16', totalSectors: 9000, files });
  repoint(built2.volume, built2.dataOffset, 'GRUBAA~1EFI', built2.clusterOf.get('\\EFI\\BOOT') as number);
  const walk2 = await (await FatVolume.open(new BufferSource(built2.volume))).walk();
  assert.match(
    walk2.problems.join('; '),
    /cross-linked clusters: \\EFI\\debian\\grubaa64\.efi and \\EFI\\BOOT share/,
  );
});

test('a file whose chain is longer than its size needs is reported', async () => {
  const built = buildFat({ type: 'FAT16', totalSectors: 9000, files: { 'A.TXT': Buffer.from('x') } });
  const a = built.clusterOf.get('\\A.TXT') as number;
  setFatEntry(built, 'FAT16', a, a + 1);
  setFatEntry(built, 'FAT16', a + 1, 0xffff);
  const walk = await (await FatVolume.open(new BufferSource(built.volume))).walk();
  assert.deepEqual(walk.problems, ['\\A.TXT: cluster chain is longer than its size needs (1 clusters)']);
});
