import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { payloadInfoSchema } from '@vmfarm/protocol';
import { readZip } from '../src/zip';
import { controllerForTests } from './controller';

/**
 * `vmfarm payload add DIR|ZIP` and `payload list` against a real controller process (SQLite, real
 * Redis), with Arm's VBSA 1.0.0 binaries from ../shared/payloads (not redistributed by the project)
 * and ZIPs made by Info-ZIP's zip.
 */
const ROOT = join(__dirname, '..', '..', '..', '..');
const ARM_COPY = join(ROOT, '..', 'shared', 'payloads', 'vbsa-1.0.0');
const farm = controllerForTests('payload');
const { dir } = farm;
const ADMIN = farm.admin;
const run = (...args: string[]) => farm.runAs(ADMIN, ...args);

/** A payload directory: payload.json from deploy/, Arm's files from the test copy. */
function payloadDir(name: string, files = ['Vbsa.efi', 'Shell.efi']): string {
  const d = join(dir, name, 'vbsa-1.0.0');
  mkdirSync(d, { recursive: true });
  copyFileSync(join(ROOT, 'deploy', 'payloads', 'vbsa-1.0.0', 'payload.json'), join(d, 'payload.json'));
  for (const f of files) copyFileSync(join(ARM_COPY, f), join(d, f));
  return d;
}

test('readZip reads what zip writes, deflated and stored, byte for byte', () => {
  const d = payloadDir('zips');
  for (const level of ['-9', '-0']) {
    const zip = join(dir, `vbsa${level}.zip`);
    execFileSync('zip', ['-q', '-r', level, zip, 'vbsa-1.0.0'], { cwd: join(dir, 'zips') });
    const entries = readZip(readFileSync(zip));
    assert.deepEqual([...entries.keys()].sort(), [
      'vbsa-1.0.0/Shell.efi',
      'vbsa-1.0.0/Vbsa.efi',
      'vbsa-1.0.0/payload.json',
    ]);
    assert.ok(entries.get('vbsa-1.0.0/Vbsa.efi')!.equals(readFileSync(join(d, 'Vbsa.efi'))));
  }
  assert.throws(() => readZip(Buffer.from('not a zip at all, not a zip at all')), /not a ZIP archive/);
});

test('payload add DIR, then the same as a ZIP (the same payload), payload list; a file missing is exit 2', async () => {
  const d = payloadDir('add');
  const added = await run('payload', 'add', d);
  assert.equal(added.code, 0, added.stderr);
  const first = payloadInfoSchema.parse(JSON.parse(added.stdout));
  assert.deepEqual([first.name, first.version, first.owner], ['vbsa', '1.0.0', null]);

  const zip = join(dir, 'add.zip');
  execFileSync('zip', ['-q', '-r', zip, 'vbsa-1.0.0'], { cwd: join(dir, 'add') });
  const again = await run('payload', 'add', zip);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(payloadInfoSchema.parse(JSON.parse(again.stdout)).id, first.id);

  const list = await run('payload', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(
    list.stdout,
    new RegExp(`^vbsa +1\\.0\\.0 +${first.id}  image ${first.image.slice(0, 12)}  public  Arm VBSA`),
  );

  const lacking = await run('payload', 'add', payloadDir('lacking', ['Vbsa.efi']));
  assert.equal(lacking.code, 2);
  assert.match(lacking.stderr, /lacks Shell\.efi \(named by payload\.json\)/);
});
