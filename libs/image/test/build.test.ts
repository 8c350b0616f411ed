import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  analyzeGpt,
  cachedEspDisk,
  ESP_TYPE_GUID,
  espDiskKey,
  FatVolume,
  partitionRange,
  RawSource,
  SliceSource,
  writeEspDisk,
  type FatFile,
} from '../src';

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-espdisk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const FILES: FatFile[] = [
  { path: 'EFI/BOOT/BOOTAA64.EFI', data: bytes(954368, 1) },
  { path: 'EFI/BOOT/Vbsa.efi', data: bytes(790528, 2) },
  { path: 'EFI/BOOT/startup.nsh', data: Buffer.from('echo -off\r\nVbsa.efi\r\n') },
  { path: 'startup.nsh', data: Buffer.from('echo -off\r\n') },
  { path: 'EFI/BOOT/a-rather-long-file-name-of-41-chars.txt', data: bytes(1000, 3) },
  { path: 'EFI/BOOT/empty', data: Buffer.alloc(0) },
  // Enough entries to need a directory of several clusters, and aliases that clash (LONGNA~1…).
  ...Array.from({ length: 40 }, (_, i) => ({ path: `many/LongName${i}.dat`, data: bytes(10 + i, i) })),
];

async function readBack(path: string) {
  const src = await RawSource.open(path);
  const gpt = await analyzeGpt(src);
  const esp = gpt.partitions[0]!;
  const { offset, length } = partitionRange(esp, gpt.sectorSize ?? 0);
  const vol = await FatVolume.open(new SliceSource(src, offset, length));
  return { src, gpt, esp, vol };
}

test('the disk reads back with the farm readers: valid GPT, one ESP, FAT32, every file byte for byte', async () => {
  const path = join(dir, 'disk.img');
  await writeEspDisk(path, { files: FILES });
  const { src, gpt, esp, vol } = await readBack(path);
  try {
    assert.deepEqual(gpt.problems, []);
    assert.equal(gpt.primary?.valid, true);
    assert.equal(gpt.backup?.valid, true);
    assert.equal(gpt.partitions.length, 1);
    assert.equal(esp.typeGuid, ESP_TYPE_GUID);
    assert.equal(esp.firstLba, 2048);
    assert.equal(vol.layout.type, 'FAT32');
    assert.deepEqual(await vol.compareFats(), []);
    for (const f of FILES) {
      const e = await vol.lookup(f.path.replaceAll('/', '\\'));
      assert.ok(e, `${f.path} is there`);
      assert.equal(e.name, f.path.split('/').at(-1));
      assert.ok((await vol.readFile(e)).equals(f.data), `${f.path} reads back`);
    }
    const walk = await vol.walk();
    assert.deepEqual(walk.problems, []);
    assert.equal(walk.entries.filter((e) => !e.isDirectory).length, FILES.length);
  } finally {
    await src.close();
  }
  // Sparse: the 64 MiB disk takes about what the files take.
  assert.ok(statSync(path).blocks * 512 < 8 * 1024 * 1024, `${statSync(path).blocks} blocks allocated`);
});

test('sgdisk, fsck.vfat and mtools accept the disk and read the same files', () => {
  const path = join(dir, 'tools.img');
  return writeEspDisk(path, { files: FILES }).then(() => {
    const v = execFileSync('sgdisk', ['-v', path], { encoding: 'utf8' });
    assert.match(v, /No problems found/);
    const esp = join(dir, 'esp.img');
    execFileSync('dd', [`if=${path}`, `of=${esp}`, 'bs=1M', 'skip=1', 'count=64', 'status=none']);
    const fsck = execFileSync('fsck.vfat', ['-n', '-v', esp], { encoding: 'utf8' });
    assert.match(fsck, /32 bit entries/);
    assert.match(fsck, /50 files, \d+\/128992 clusters/);
    assert.doesNotMatch(fsck, /differ|invalid|Free cluster summary wrong|bad/i);
    assert.equal(
      execFileSync('mtype', ['-i', `${path}@@1M`, '::/EFI/BOOT/startup.nsh'], { encoding: 'latin1' }),
      'echo -off\r\nVbsa.efi\r\n',
    );
    const listing = execFileSync('mdir', ['-i', `${path}@@1M`, '::/EFI/BOOT'], { encoding: 'utf8' });
    assert.match(listing, /Vbsa\.efi/);
    assert.match(listing, /a-rather-long-file-name-of-41-chars\.txt/);
    assert.match(listing, /BOOTAA64 EFI/);
    execFileSync('mcopy', ['-i', `${path}@@1M`, '::/EFI/BOOT/Vbsa.efi', join(dir, 'copy.efi')]);
    assert.ok(readFileSync(join(dir, 'copy.efi')).equals(FILES[1]!.data));
  });
});

test('deterministic and cached by content: same files, same key and bytes; another file, another key', async () => {
  const a = join(dir, 'a.img');
  const b = join(dir, 'b.img');
  await writeEspDisk(a, { files: FILES });
  await writeEspDisk(b, { files: [...FILES].reverse() });
  // The order the files are given in does not change the disk.
  assert.ok(readFileSync(a).equals(readFileSync(b)));
  assert.equal(espDiskKey({ files: FILES }), espDiskKey({ files: [...FILES].reverse() }));
  const changed = FILES.map((f, i) =>
    i === 2 ? { ...f, data: Buffer.from('echo -off\r\nVbsa.efi -v 1\r\n') } : f,
  );
  assert.notEqual(espDiskKey({ files: changed }), espDiskKey({ files: FILES }));

  const cache = join(dir, 'cache');
  const first = await cachedEspDisk(cache, { files: FILES });
  assert.equal(first.built, true);
  const again = await cachedEspDisk(cache, { files: FILES });
  assert.deepEqual(again, { ...first, built: false });
  assert.ok(readFileSync(first.path).equals(readFileSync(a)));
});

test('refusals: two names FAT sees as one, a file under a file, more than the volume holds', async () => {
  const p = join(dir, 'bad.img');
  await assert.rejects(
    writeEspDisk(p, {
      files: [
        { path: 'A.EFI', data: bytes(1, 1) },
        { path: 'a.efi', data: bytes(1, 1) },
      ],
    }),
    /given twice/,
  );
  await assert.rejects(
    writeEspDisk(p, {
      files: [
        { path: 'A', data: bytes(1, 1) },
        { path: 'A/B', data: bytes(1, 1) },
      ],
    }),
    /is a file/,
  );
  await assert.rejects(
    writeEspDisk(p, {
      files: [{ path: 'BIG', data: Buffer.alloc(70 * 1024 * 1024) }],
      espBytes: 64 * 1024 * 1024,
    }),
    /do not fit/,
  );
});
