import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { imageReportSchema } from '@vmfarm/protocol';
import { buildDisk, pe, writeSparse } from '@vmfarm/suites/testing';

const BIN = join(__dirname, '..', '..', 'bin', 'vmfarm.js');
let dir = '';
let good = '';
let bad = '';
const goodBytes = buildDisk();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmfarm-cli-check-'));
  good = join(dir, 'good.img');
  bad = join(dir, 'bad.img');
  await writeSparse(good, goodBytes);
  await writeSparse(bad, buildDisk({ fat: { files: { 'EFI/BOOT/BOOTAA64.EFI': pe({ machine: 0x8664 }) } } }));
});
after(() => rm(dir, { recursive: true, force: true }));

function vmfarm(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [BIN, 'check', ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('JSON output is exactly the ImageReport contract; exit 0 on a conformant image', () => {
  const r = vmfarm([good, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(imageReportSchema.strict().parse(report), report);
  assert.equal(report.image.sha256, null);
  assert.deepEqual(report.image, { sha256: null, size: goodBytes.length, format: 'raw', arch: 'aarch64' });
  assert.deepEqual(
    report.verdicts.map((v: { clause: string; suite: string }) => `${v.suite}:${v.clause}`),
    ['GPT', 'ESP', 'ESP-FAT', 'REMOVABLE-PATH', 'EFI-APP', 'NO-VARS', 'FW-NOT-BUNDLED'].map(
      (c) => `static:IMG-${c}`,
    ),
  );
  assert.equal(report.summary.result, 'PASS');
});

test('--sha256 hashes the decompressed bytes of a gzip input', async () => {
  const gz = join(dir, 'good.img.gz');
  await writeFile(gz, gzipSync(goodBytes));
  const r = vmfarm([gz, '--format=json', '--sha256', '--arch', 'aarch64']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).image.sha256, createHash('sha256').update(goodBytes).digest('hex'));
});

test('a MUST failure exits 1; text and JUnit renderings', () => {
  let r = vmfarm([bad]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\[F\] FAIL {2}IMG-EFI-APP .*machine is 0x8664 \(x86-64\)/);
  assert.match(r.stdout, /^FAIL: 6 pass, 1 fail/m);
  r = vmfarm([bad, '--format', 'junit']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /<testcase classname="static.MUST" name="IMG-EFI-APP"><failure/);
});

test('usage errors and unreadable input exit 2 with one line', () => {
  for (const args of [
    [],
    [good, good],
    [good, '--arch', 'x86'],
    [good, '--format', 'yaml'],
    [good, '--bogus'],
  ]) {
    const r = vmfarm(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^vmfarm check: /);
  }
  const missing = vmfarm([join(dir, 'missing.img')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^vmfarm check: cannot read .*missing.img: ENOENT\n$/);
  const help = vmfarm(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vmfarm check IMAGE/);
});

test('a corrupt gzip input is unreadable (2); a missing xz tool is an ERROR (3)', async () => {
  const gz = join(dir, 'broken.gz');
  await writeFile(gz, Buffer.concat([gzipSync(goodBytes).subarray(0, 2000), Buffer.alloc(50, 7)]));
  const r = vmfarm([gz]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not valid gzip data/);
  const xz = join(dir, 'x.xz');
  await writeFile(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]));
  const e = vmfarm([xz, '--format', 'json'], { ...process.env, PATH: '/nonexistent' });
  assert.equal(e.code, 3, e.stderr);
  assert.equal(JSON.parse(e.stdout).summary.result, 'ERROR');
});

test('check loads only what the check needs: no schema library, live suites, NestJS, BullMQ or Redis', async () => {
  // A preload that lists every module file the process loaded, printed at exit.
  const hook = join(dir, 'list-modules.js');
  await writeFile(
    hook,
    "process.on('exit', () => process.stderr.write('\\nMODULES ' + JSON.stringify(Object.keys(require.cache))));",
  );
  const r = spawnSync(process.execPath, ['-r', hook, BIN, 'check', good, '--format', 'json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const loaded: string[] = JSON.parse(r.stderr.slice(r.stderr.indexOf('MODULES ') + 8));
  assert.ok(
    loaded.some((f) => f.includes('/libs/image/')),
    'the image readers are loaded',
  );
  const heavy = loaded.filter((f) =>
    /node_modules\/(zod|@nestjs|bullmq|ioredis|re2-wasm|pg|better-sqlite3|express)\/|\/libs\/(session|targets|host)\/|\/libs\/suites\/dist\/src\/live\//.test(
      f,
    ),
  );
  assert.deepEqual(heavy, []);
});
