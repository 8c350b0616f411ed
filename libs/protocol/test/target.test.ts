import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  hostPathsNamed,
  resolveTargetProfiles,
  STAGES,
  targetCreateSchema,
  targetProfileSchema,
} from '../src';

const tcg = {
  id: 'tcg',
  kind: 'qemu',
  arch: ['aarch64'],
  binary: 'qemu-system-aarch64',
  accel: 'tcg',
  cpu: 'cortex-a57',
  gic: 3,
  acpi: 'off',
  memoryMiB: 1024,
  smp: 1,
  console: 'pl011',
  hotplugPorts: 4,
  firmwareCode: 'AAVMF_CODE.fd',
  firmwareVars: 'AAVMF_VARS.fd',
};

test('profiles are a union on kind: static ones as before, qemu ones with every machine field', () => {
  assert.deepEqual(targetProfileSchema.parse({ id: 'static', kind: 'static' }), {
    id: 'static',
    kind: 'static',
    description: '',
    arch: ['aarch64', 'aarch32'],
  });
  assert.equal(targetProfileSchema.parse(tcg).kind, 'qemu');
  const { gic: _gic, ...incomplete } = tcg;
  assert.ok(!targetProfileSchema.safeParse(incomplete).success);
  const bad = targetProfileSchema.safeParse({ ...tcg, gic: 4, smp: 0, firmwareVars: '../VARS.fd', typo: 1 });
  assert.deepEqual(bad.error!.issues.map((i) => [i.path.join('.'), i.message]).sort(), [
    ['', 'Unrecognized key: "typo"'],
    [
      'firmwareVars',
      'must be a file name the host offers (e.g. AAVMF_VARS.fd) or, given by an admin, an absolute path',
    ],
    ['gic', 'must be one of 2, 3'],
    ['smp', 'must be an integer from 1 to 64'],
  ]);
  assert.ok(
    !targetProfileSchema.safeParse({ id: 's', kind: 'static', gic: 3 }).success,
    'no qemu fields on static',
  );
  assert.ok(targetCreateSchema.safeParse({ id: 'x', extends: 'tcg', hotplugPorts: 0 }).success);
});

test('extends chains resolve among files and over known profiles; every problem is listed', () => {
  const { profiles, errors } = resolveTargetProfiles([
    { id: 'kvm', kind: 'qemu', extends: 'tcg', accel: 'kvm', cpu: 'host' },
    tcg,
    { id: 'ms', extends: 'kvm', firmwareVars: 'AAVMF_VARS.ms.fd' },
  ]);
  assert.deepEqual(errors, []);
  const ms = profiles.find((p) => p.id === 'ms')!;
  assert.ok(
    ms.kind === 'qemu' && ms.accel === 'kvm' && ms.firmwareVars === 'AAVMF_VARS.ms.fd' && ms.gic === 3,
  );
  assert.equal(ms.extends, 'kvm');

  const broken = resolveTargetProfiles(
    [
      { id: 'a', extends: 'b' },
      { id: 'b', extends: 'a' },
      { id: 'c', extends: 'ghost' },
      { id: 'd', extends: 'known', smp: 99 },
    ],
    new Map([['known', targetProfileSchema.parse(tcg)]]),
  );
  assert.deepEqual(broken.profiles, []);
  assert.deepEqual(
    broken.errors.map((e) => e.path),
    ['b.extends', 'c.extends', 'd.smp'],
  );
  assert.match(broken.errors[0].message, /cycle: a -> b -> a/);
});

test('host files are names; a host path is one an admin must give; stage limits are seconds per stage', () => {
  for (const name of ['AAVMF_VARS.ms.fd', 'QEMU_EFI.fd', 'edk2-aarch64-code.fd'])
    assert.ok(targetProfileSchema.safeParse({ ...tcg, firmwareVars: name }).success, name);
  for (const bad of ['../etc/passwd', 'fw/VARS.fd', '.hidden', '', 'a\0b', 'VARS.fd '])
    assert.ok(!targetProfileSchema.safeParse({ ...tcg, firmwareVars: bad }).success, JSON.stringify(bad));
  assert.ok(targetProfileSchema.safeParse({ ...tcg, firmwareVars: '/srv/fw/VARS.fd' }).success);
  assert.deepEqual(hostPathsNamed({ id: 'x', firmwareVars: '/etc/passwd', firmwareCode: 'AAVMF_CODE.fd' }), [
    { field: 'firmwareVars', path: '/etc/passwd' },
  ]);
  assert.deepEqual(hostPathsNamed({ id: 'x', description: '/not/a/host/file' }), []);

  const slow = targetProfileSchema.parse({ ...tcg, stageLimits: { ready: 900, attempt: 3600 } });
  assert.deepEqual(slow.stageLimits, { ready: 900, attempt: 3600 });
  const wrong = targetProfileSchema.safeParse({ ...tcg, stageLimits: { ready: 0, boto: 5 } });
  assert.deepEqual(wrong.error!.issues.map((i) => i.path.join('.')).sort(), [
    'stageLimits',
    'stageLimits.ready',
  ]);
  assert.deepEqual(STAGES, ['boot', 'ready', 'act', 'observe', 'judge']);
});
