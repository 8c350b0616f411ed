import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { imageResourceSchema, matrixViewSchema, scheduleViewSchema } from '@vmfarm/protocol';
import { controllerForTests } from './controller';

/** `vmfarm submit --version --tag` and `vmfarm schedule …` against a real controller process. */
const farm = controllerForTests('schedule');
const { dir } = farm;
const disk = join(dir, 'debian.img');
writeFileSync(disk, Buffer.alloc(4096, 9));

const ADMIN = farm.admin;
const { runAs } = farm;
const run = (...args: string[]) => runAs(ADMIN, ...args);
const getJson = async (path: string) =>
  (
    await fetch(`${farm.url()}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })
  ).json() as Promise<unknown>;

test('submit sets version and tags, and re-tags an image the controller already has', async () => {
  const first = await run(
    'submit',
    disk,
    '--targets',
    'static',
    '--suites',
    'static',
    '--version',
    '1',
    '--tag',
    'nightly',
  );
  assert.equal(first.code, 0, first.stderr);
  const [image] = (await getJson('/api/images')) as unknown[];
  const parsed = imageResourceSchema.parse(image);
  assert.deepEqual([parsed.name, parsed.version, parsed.tags], ['debian.img', '1', ['nightly']]);

  const again = await run(
    'submit',
    disk,
    '--targets',
    'static',
    '--suites',
    'static',
    '--name',
    'debian',
    '--version',
    '2',
    '--tag',
    'nightly',
    '--tag',
    'arm',
  );
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /version 2 tags arm,nightly \(already on the controller\)/);
  const updated = imageResourceSchema.parse(await getJson(`/api/images/${parsed.sha256}`));
  assert.deepEqual([updated.name, updated.version, updated.tags], ['debian', '2', ['arm', 'nightly']]);

  const bad = await run('submit', disk, '--targets', 'static', '--suites', 'static', '--tag', 'no way');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tag must be/);
});

test('schedule create, list, run and delete', async () => {
  const create = (...extra: string[]) =>
    run('schedule', 'create', '--name', 'nightly', '--targets', 'static', '--suites', 'static', ...extra);
  const made = await create('--cron', '0 2 * * *', '--timezone', 'Europe/Paris', '--tag', 'nightly');
  assert.equal(made.code, 0, made.stderr);
  const id = made.stdout.trim();
  assert.match(made.stderr, /next run 20\d\d-/);

  const refused = await create('--cron', 'daily', '--tag', 'nightly');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /cron: invalid cron pattern 'daily'/);
  assert.equal((await create('--cron', '0 2 * * *')).code, 2, 'neither --tag nor --image');

  const list = await run('schedule', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(
    list.stdout,
    new RegExp(`^${id}  nightly  '0 2 \\* \\* \\*' Europe/Paris  tags nightly × static × static`),
  );
  const json = await run('schedule', 'list', '--json');
  assert.deepEqual(
    (JSON.parse(json.stdout) as unknown[]).map((s) => scheduleViewSchema.parse(s).id),
    [id],
  );

  // The admin's schedule is public: a vendor lists it but may not change it; its own is its tenant's.
  const vendor = (
    await run('token', 'create', '--name', 'acme', '--role', 'vendor', '--tenant', 'acme')
  ).stdout.trim();
  assert.match((await run('schedule', 'list', '--token', vendor)).stdout, new RegExp(`^${id} `));
  const refusedDelete = await runAs(vendor, 'schedule', 'delete', id);
  assert.equal(refusedDelete.code, 2);
  assert.match(refusedDelete.stderr, /schedule \S+ is public: only an admin may change or run it\n$/);
  const own = await runAs(
    vendor,
    'schedule',
    'create',
    '--name',
    'acme',
    '--cron',
    '0 3 * * *',
    '--tag',
    'x',
    '--targets',
    'static',
    '--suites',
    'static',
  );
  assert.equal(own.code, 0, own.stderr);
  assert.equal(scheduleViewSchema.parse(await getJson(`/api/schedules/${own.stdout.trim()}`)).owner, 'acme');
  assert.equal((await runAs(vendor, 'schedule', 'delete', own.stdout.trim())).code, 0);

  const fired = await run('schedule', 'run', id);
  assert.equal(fired.code, 0, fired.stderr);
  const matrix = matrixViewSchema.parse(await getJson(`/api/matrices/${fired.stdout.trim()}`));
  assert.equal(matrix.scheduleId, id);
  const busy = await run('schedule', 'run', id);
  assert.equal(busy.code, 2);
  assert.match(busy.stderr, /\(409\): schedule \S+: matrix \S+ is still running/);

  assert.equal((await run('schedule', 'delete', id)).code, 0);
  const gone = await run('schedule', 'delete', id);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /\(404\): no schedule/);
  assert.equal((await run('schedule', 'frobnicate')).code, 2);
});

test('cancel takes a matrix no agent has run out of the queue: SKIP with the reason', async () => {
  const submitted = await run(
    'submit',
    disk,
    '--targets',
    'static',
    '--suites',
    'static',
    '--name',
    'cancel-me',
  );
  assert.equal(submitted.code, 0, submitted.stderr);
  const id = submitted.stdout.trim();
  const cancelled = await run('cancel', id, '--reason', 'not this one');
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(cancelled.stderr, `matrix ${id} cancelled: 1 cell(s) recorded SKIP (1/1 done)\n`);
  const matrix = matrixViewSchema.parse(await getJson(`/api/matrices/${id}`));
  assert.deepEqual(
    [matrix.state, matrix.cancelled?.reason, matrix.cells.map((c) => c.verdict)],
    ['done', 'not this one', ['SKIP']],
  );
  const again = await run('cancel', id);
  assert.equal(again.stderr, `matrix ${id} was already done: nothing to cancel\n`);
  const report = await run('report', id);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /^cancel-me( \S+)? \([0-9a-f]{16}\) × static × static: done/m);
  assert.match(report.stdout, /SKIP .*cancelled by .*: not this one/);
  const unknown = await run('cancel', 'nosuch');
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'vmfarm cancel: matrix nosuch was refused (404): no matrix nosuch\n');
  assert.equal((await run('cancel')).code, 2);
});
