import assert from 'node:assert/strict';
import { test } from 'node:test';
import { knownIssueViewSchema } from '@vmfarm/protocol';
import { expiryOf } from '../src/commands/issue';
import { controllerForTests } from './controller';

/** `vmfarm issue add|list|close` against a real controller process (SQLite, real Redis). */
const farm = controllerForTests('issue');
const ADMIN = farm.admin;
const run = (...args: string[]) => farm.runAs(ADMIN, ...args);

test('--expires takes an instant with its offset or a time from now', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');
  assert.equal(expiryOf('7d', now), '2026-01-08T00:00:00.000Z');
  assert.equal(expiryOf('12h', now), '2026-01-01T12:00:00.000Z');
  assert.equal(expiryOf('2026-03-01T00:00:00+01:00', now), '2026-02-28T23:00:00.000Z');
  assert.throws(() => expiryOf('2026-03-01', now), /offset/);
  assert.throws(() => expiryOf('soon', now), /--expires/);
});

test('adds, lists and closes known issues; the controller’s refusals are listed', async () => {
  const added = await run(
    'issue',
    'add',
    '--title',
    'GICv2 missing on KVM hosts',
    '--owner',
    'platform team',
    '--reason',
    'the host kernel has no vGICv2',
    '--clause',
    'PLAT-GIC',
    '--clause',
    'VBSA:V_L1GI_*',
    '--target',
    'qemu-*-kvm',
    '--image-tag',
    'nightly',
    '--message',
    'GICv2',
    '--link',
    'https://bugs.example.org/1',
    '--expires',
    '30d',
    '--fixed-after',
    '3',
  );
  assert.equal(added.code, 0, added.stderr);
  const id = added.stdout.trim();
  assert.match(id, /^ki-[0-9a-f]{8}$/);

  const listed = await run('issue', 'list');
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${id}  possibly fixed|^${id}  active`));
  assert.match(listed.stdout, /PLAT-GIC,VBSA:V_L1GI_\*; target qemu-\*-kvm; tag nightly; message \/GICv2\//);
  const json = await run('issue', 'list', '--json');
  const [view] = (JSON.parse(json.stdout) as unknown[]).map((i) => knownIssueViewSchema.parse(i));
  assert.deepEqual(
    [view.id, view.owner, view.fixedAfter, view.match.clauses, view.link],
    [id, 'platform team', 3, ['PLAT-GIC', 'VBSA:V_L1GI_*'], 'https://bugs.example.org/1'],
  );

  const bad = await run(
    'issue',
    'add',
    '--title',
    't',
    '--owner',
    'o',
    '--reason',
    'r',
    '--clause',
    'X',
    '--message',
    '(a)\\1',
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /match\.message: not an RE2 pattern/);
  const usage = await run('issue', 'add', '--title', 't', '--owner', 'o', '--reason', 'r');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--clause/);

  const closed = await run('issue', 'close', id);
  assert.equal(closed.code, 0, closed.stderr);
  assert.equal((await run('issue', 'list')).stdout, '');
  assert.match((await run('issue', 'list', '--all')).stdout, new RegExp(`^${id}  closed`));
  const missing = await run('issue', 'close', 'ki-00000000');
  assert.equal(missing.code, 2);
});
