import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyOverrides,
  BUNDLED_PROFILES_DIR,
  loadProfileInputs,
  ProfileError,
  resolveProfile,
  resolveProfiles,
  type QemuProfileInput,
} from '../src';

const base: QemuProfileInput = {
  id: 'base',
  kind: 'qemu',
  description: 'base',
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

test('a profile inherits every field it does not give, through chains of any depth', () => {
  const { profiles, issues } = resolveProfiles([
    { id: 'grandchild', kind: 'qemu', extends: 'child', smp: 4 },
    { id: 'child', kind: 'qemu', extends: 'base', gic: 2, description: 'GICv2' },
    base,
  ]);
  assert.deepEqual(issues, []);
  const g = profiles.get('grandchild')!;
  assert.equal(g.id, 'grandchild');
  assert.equal(g.gic, 2);
  assert.equal(g.smp, 4);
  assert.equal(g.description, 'GICv2');
  assert.equal(g.cpu, 'cortex-a57');
  assert.equal(g.firmwareVars, 'AAVMF_VARS.fd');
  assert.equal('extends' in g, false);
  assert.equal(profiles.get('child')!.smp, 1);
});

test('every problem of every profile is reported at once', () => {
  const { profiles, issues } = resolveProfiles([
    base,
    { id: 'typo', kind: 'qemu', extends: 'base', gicVersion: 2 } as QemuProfileInput,
    { id: 'bad', kind: 'qemu', extends: 'base', gic: 4 as never, console: 'vga' as never, memoryMiB: 1.5 },
    { id: 'orphan', kind: 'qemu', extends: 'nowhere' },
    { id: 'loop-a', kind: 'qemu', extends: 'loop-b' },
    { id: 'loop-b', kind: 'qemu', extends: 'loop-a' },
    { id: 'partial', kind: 'qemu', smp: 2 },
    { id: 'on-orphan', kind: 'qemu', extends: 'orphan' },
  ]);
  const paths = issues.map((i) => i.path);
  assert.ok(paths.includes('typo.gicVersion'));
  assert.ok(paths.includes('bad.gic') && paths.includes('bad.console') && paths.includes('bad.memoryMiB'));
  assert.match(issues.find((i) => i.path === 'orphan.extends')!.message, /unknown base profile 'nowhere'/);
  assert.match(issues.find((i) => i.path.startsWith('loop-'))!.message, /cycle: loop-. -> loop-. -> loop-./);
  assert.ok(paths.includes('partial.binary') && paths.includes('partial.firmwareCode'));
  assert.deepEqual([...profiles.keys()], ['base']);
  assert.throws(
    () => resolveProfile('orphan', [base, { id: 'orphan', kind: 'qemu', extends: 'x' }]),
    ProfileError,
  );
});

test('overrides of a boot are checked and win over the profile', () => {
  const p = resolveProfile('base', [base]);
  assert.equal(applyOverrides(p, { gic: 2, smp: 2 }).gic, 2);
  assert.equal(applyOverrides(p, { smp: undefined }).smp, 1);
  assert.throws(() => applyOverrides(p, { smp: 0 }), /base override\.smp: must be an integer from 1 to 64/);
});

test('the bundled qemu base profiles resolve', () => {
  const { profiles, issues } = resolveProfiles(loadProfileInputs(BUNDLED_PROFILES_DIR));
  assert.deepEqual(issues, []);
  assert.deepEqual([...profiles.keys()].sort(), [
    'qemu-aarch32-on-aarch64',
    'qemu-aarch32-tcg',
    'qemu-aarch64-kvm',
    'qemu-aarch64-tcg',
  ]);
  const kvm = profiles.get('qemu-aarch64-kvm')!;
  assert.equal(kvm.accel, 'kvm');
  assert.equal(kvm.firmwareCode, 'AAVMF_CODE.fd');
  const a32 = profiles.get('qemu-aarch32-on-aarch64')!;
  assert.equal(a32.binary, 'qemu-system-aarch64');
  assert.equal(a32.cpu, 'cortex-a15');
  assert.deepEqual(a32.arch, ['aarch32']);
});
