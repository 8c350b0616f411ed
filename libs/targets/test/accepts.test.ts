import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, firmwareIn, resolveHostFile, type HostProbe, type QemuProfile } from '../src';
import { tcgProfile } from './profiles';

const profile = tcgProfile();

const qemu = { path: '/usr/bin/x', version: '7.2.22' };
const x64: HostProbe = {
  hostArch: 'x64',
  binaries: { 'qemu-system-aarch64': qemu, 'qemu-system-arm': qemu, 'qemu-img': qemu },
  firmware: { 'AAVMF_CODE.fd': '/fw/AAVMF_CODE.fd', 'AAVMF_VARS.fd': '/fw/AAVMF_VARS.fd' },
  files: {},
  kvm: { device: true, usable: true, arm64: false, reason: '/dev/kvm serves x64 guests only' },
};
const arm64: HostProbe = { ...x64, hostArch: 'arm64', kvm: { device: true, usable: true, arm64: true } };

const reasons = (p: Partial<QemuProfile>, probe: HostProbe = x64) => {
  const a = accepts({ ...profile, ...p }, probe);
  return a.ok ? [] : a.reasons;
};

test('a host with the binary and the firmware accepts a TCG profile', () => {
  assert.deepEqual(accepts(profile, x64), { ok: true });
});

test('missing binaries and firmware files are named', () => {
  const probe = {
    ...x64,
    binaries: { ...x64.binaries, 'qemu-system-aarch64': null, 'qemu-img': null },
    firmware: { 'AAVMF_CODE.fd': '/fw/AAVMF_CODE.fd' },
  };
  assert.deepEqual(reasons({}, probe), [
    'qemu-system-aarch64 is not installed (Debian: qemu-system-arm)',
    'qemu-img is not installed (Debian: qemu-utils)',
    'firmware variables template AAVMF_VARS.fd is not offered by this host (it offers AAVMF_CODE.fd)',
  ]);
  const refused = accepts(profile, probe);
  assert.equal(refused.ok, false);
  assert.match(
    refused.ok ? '' : refused.reason,
    /qemu-system-aarch64 is not installed \(Debian: qemu-system-arm\); qemu-img/,
  );
});

test('KVM: absent, not serving arm64 guests, or fine on an arm64 host', () => {
  const absent = {
    ...x64,
    kvm: { device: false, usable: false, arm64: false, reason: '/dev/kvm is absent' },
  };
  assert.deepEqual(reasons({ accel: 'kvm', cpu: 'host' }, absent), [
    'KVM cannot run an arm64 guest here: /dev/kvm is absent',
  ]);
  assert.deepEqual(reasons({ accel: 'kvm', cpu: 'host' }), [
    'KVM cannot run an arm64 guest here: /dev/kvm serves x64 guests only',
  ]);
  assert.deepEqual(reasons({ accel: 'kvm', cpu: 'host' }, arm64), []);
  assert.deepEqual(reasons({ accel: 'kvm', binary: 'qemu-system-arm', cpu: 'cortex-a15' }, arm64), [
    'qemu-system-arm has no KVM support on arm64 hosts: use qemu-system-aarch64',
  ]);
});

test('GICv2 with more than 8 vCPUs is refused at plan time, 8 is fine', () => {
  assert.deepEqual(reasons({ gic: 2, smp: 8 }), []);
  assert.deepEqual(reasons({ gic: 2, smp: 9 }), ['GICv2 supports at most 8 vCPUs, the profile asks for 9']);
  assert.deepEqual(reasons({ gic: 3, smp: 9 }), []);
});

test('CPU models the binary or the accelerator cannot provide, and ACPI on a 32-bit guest', () => {
  assert.deepEqual(reasons({ binary: 'qemu-system-arm', cpu: 'cortex-a72' }), [
    'cpu cortex-a72 is 64-bit: qemu-system-arm cannot emulate it',
  ]);
  assert.deepEqual(reasons({ cpu: 'host' }), ['cpu host needs accel kvm']);
  assert.deepEqual(reasons({ cpu: 'cortex-a15', acpi: 'on' }), [
    'acpi=on needs a 64-bit guest: the 32-bit firmware publishes no ACPI tables',
  ]);
  assert.deepEqual(reasons({ cpu: 'cortex-a15' }), []);
});

test('firmware names resolve against what the host offers, never against a directory by hand', () => {
  // A name of a file that exists on the host but not among its firmware (the vendor's /etc/passwd).
  assert.deepEqual(reasons({ firmwareVars: 'passwd' }), [
    'firmware variables template passwd is not offered by this host (it offers AAVMF_CODE.fd, AAVMF_VARS.fd)',
  ]);
  // `toString` and other names of Object.prototype are no firmware.
  assert.match(reasons({ firmwareVars: 'constructor' })[0], /constructor is not offered/);
  assert.equal(resolveHostFile(x64, 'AAVMF_VARS.fd').ok, true);
  // A host path (an admin's) is used only once probed present.
  assert.deepEqual(reasons({ firmwareVars: '/srv/VARS.fd' }), [
    'firmware variables template /srv/VARS.fd was not probed',
  ]);
  assert.deepEqual(
    reasons({ firmwareVars: '/srv/VARS.fd' }, { ...x64, files: { '/srv/VARS.fd': true } }),
    [],
  );
});

test('the probe offers the files of the firmware directories by name, the first directory winning', () => {
  const a = mkdtempSync(join(tmpdir(), 'fw-a-'));
  const b = mkdtempSync(join(tmpdir(), 'fw-b-'));
  try {
    writeFileSync(join(a, 'VARS.fd'), '');
    writeFileSync(join(b, 'VARS.fd'), '');
    writeFileSync(join(b, 'CODE.fd'), '');
    mkdirSync(join(b, 'sub.fd'));
    assert.deepEqual(firmwareIn([a, b, '/nonexistent']), {
      'VARS.fd': join(a, 'VARS.fd'),
      'CODE.fd': join(b, 'CODE.fd'),
    });
  } finally {
    rmSync(a, { recursive: true });
    rmSync(b, { recursive: true });
  }
});
