import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { HostError, ImageFormatError, openImage, xzDecompressStream } from '../src';
import { writeQcow2 } from './builders';

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'vmfarm-open-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const disk = Buffer.alloc(8 * 1024 * 1024);
disk.write('start', 0);
disk.write('end', disk.length - 3);

test('raw, gz and xz inputs, detected by magic; the temp file is sparse and removed on close', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, 'disk.img'), disk);
    await writeFile(join(dir, 'named.xz'), gzipSync(disk)); // name lies: gz content
    execFileSync('xz', ['-k', '-T1', join(dir, 'disk.img')]);
    const tmp = join(dir, 'tmp');
    execFileSync('mkdir', [tmp]);
    for (const [file, kind] of [
      ['disk.img', 'raw'],
      ['named.xz', 'gz'],
      ['disk.img.xz', 'xz'],
    ] as const) {
      const img = await openImage(join(dir, file), tmp);
      assert.equal(img.uploadedAs, kind);
      assert.equal(img.format, 'raw');
      assert.equal(img.disk.size, disk.length);
      assert.equal((await img.disk.read(0, 5)).toString(), 'start');
      assert.equal((await img.disk.read(disk.length - 3, 3)).toString(), 'end');
      if (kind !== 'raw') assert.ok((await stat(img.filePath)).blocks * 512 < disk.length / 4, 'sparse');
      await img.close();
      assert.deepEqual(await readdir(tmp), []);
    }
  }));

test('a compressed qcow2 is opened through its tables', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, 'q.gz'), gzipSync(writeQcow2(disk)));
    const img = await openImage(join(dir, 'q.gz'), dir);
    assert.equal(img.format, 'qcow2');
    assert.equal(img.uploadedAs, 'gz');
    assert.equal((await img.disk.read(disk.length - 3, 3)).toString(), 'end');
    await img.close();
    await assert.rejects(access(img.filePath));
  }));

test('broken compressed data and a missing xz are distinct errors', () =>
  withDir(async (dir) => {
    await writeFile(
      join(dir, 'bad.gz'),
      Buffer.concat([gzipSync(disk).subarray(0, 100), Buffer.alloc(100, 1)]),
    );
    await assert.rejects(openImage(join(dir, 'bad.gz'), dir), ImageFormatError);
    await writeFile(join(dir, 'bad.xz'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]));
    await assert.rejects(openImage(join(dir, 'bad.xz'), dir), /not valid xz data/);
    const { stream, done } = xzDecompressStream(join(dir, 'bad.xz'), 'no-such-xz-binary');
    stream.resume();
    await assert.rejects(done, HostError);
    assert.equal((await readdir(dir)).filter((f) => f.startsWith('vmfarm-image-')).length, 0);
    await assert.rejects(openImage(join(dir, 'missing.img'), dir), /ENOENT/);
  }));
