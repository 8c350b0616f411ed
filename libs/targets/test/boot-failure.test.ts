/**
 * Start-up failures with stand-in programs instead of QEMU (no VM): the error says what happened and
 * close leaves no process and no run directory.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlive } from '@vmfarm/host';
import { BootError, VmExitedError } from '@vmfarm/session';
import { boot, type HostProbe } from '../src';
import { tcgProfile } from './profiles';

function setup(t: { after(fn: () => void): void }, qemuScript: string) {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-boot-failure-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const pidFile = join(dir, 'qemu.pid');
  // The stand-in qemu-img creates the overlay: `create -q -f FMT PATH SIZE`, so the path is $5.
  const qemuImg = script('qemu-img', ': > "$5"');
  const qemu = script('qemu', `echo $$ > ${pidFile}\n${qemuScript}`);
  const firmware = script('VARS.fd', '');
  const image = join(dir, 'disk.img');
  writeFileSync(image, Buffer.alloc(4096));
  const tool = { path: qemu, version: 'test' };
  const probe: HostProbe = {
    hostArch: 'x64',
    binaries: {
      'qemu-system-aarch64': tool,
      'qemu-system-arm': tool,
      'qemu-img': { path: qemuImg, version: 'test' },
    },
    firmware: { 'VARS.fd': firmware },
    files: {},
    kvm: { device: false, usable: false, arm64: false, reason: 'absent' },
  };
  const profile = tcgProfile({
    id: 'fake',
    hotplugPorts: 1,
    firmwareCode: 'VARS.fd',
    firmwareVars: 'VARS.fd',
  });
  const instanceDir = join(dir, 'instance');
  return { probe, profile, image, instanceDir, pidFile };
}

const runDirs = (instanceDir: string) => readdirSync(instanceDir).filter((f) => f.startsWith('.run-'));

test('QEMU refusing its options: boot fails with what QEMU said on stderr', async (t) => {
  const { probe, profile, image, instanceDir } = setup(
    t,
    `echo "qemu: -machine virt: unsupported option" >&2; exit 1`,
  );
  await assert.rejects(boot(profile, { image, format: 'raw', instanceDir, probe }), (err: VmExitedError) => {
    assert.ok(err instanceof VmExitedError, String(err));
    assert.match(
      err.message,
      /^QEMU exited with status 1 while awaiting QMP connection; QEMU said: "qemu: -machine virt: unsupported option"/,
    );
    return true;
  });
  assert.deepEqual(runDirs(instanceDir), []);
  assert.deepEqual(readdirSync(instanceDir).sort(), ['console.log', 'qemu.log', 'qmp.jsonl', 'vars.fd']);
});

test('QEMU hanging before QMP: boot gives up at its timeout and kills the process group', async (t) => {
  // A child of QEMU's (QEMU forks none, but a helper could) goes with the group.
  const { probe, profile, image, instanceDir, pidFile } = setup(t, 'sleep 600 & echo $! > "$0.child"; wait');
  await assert.rejects(
    boot(profile, { image, format: 'raw', instanceDir, probe, startTimeoutMs: 700 }),
    (err: BootError) => {
      assert.ok(err instanceof BootError, String(err));
      assert.match(err.message, /^cannot connect to QMP at .*qmp\.sock: ENOENT$/);
      return true;
    },
  );
  for (const file of [pidFile, join(pidFile, '../qemu.child')]) {
    const pid = Number(readFileSync(file, 'utf8'));
    assert.ok(pid > 0);
    assert.equal(isAlive(pid), false, `${file}: ${pid} still runs`);
  }
  assert.deepEqual(runDirs(instanceDir), []);
});
