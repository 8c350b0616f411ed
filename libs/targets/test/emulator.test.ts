/**
 * The emulator driver: its profiles and refusals (fast), and the reference guest (fixtures/guest)
 * booted to VMFARM-READY through the driver on the bundled emulator (minutes of CPU: the machine is
 * an interpreter). Needs Debian's AAVMF (qemu-efi-aarch64); build.sh caches the image.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostCommandError, SessionClosedError, TargetRefusedError } from '@vmfarm/session';
import {
  acceptsEmulator,
  BUNDLED_PROFILES_DIR,
  emulatorDriver,
  loadEmulatorProfiles,
  probeHost,
  type EmulatorSession,
} from '../src';

const ROOT = join(__dirname, '../../../..');
const profiles = loadEmulatorProfiles(BUNDLED_PROFILES_DIR);
const V3 = profiles.get('emulator-aarch64')!;
/** An interpreter: ~150 s on a quiet machine, several times that under load. No timed assertion. */
const READY_MS = 1_800_000;
const ANSWER_MS = 600_000;

test('bundled emulator profiles: GICv3 and GICv2, FDT, no hotplug ports, AArch64 only', () => {
  assert.equal(V3.gic, 3);
  assert.equal(V3.acpi, 'off');
  assert.equal(V3.hotplugPorts, 0);
  assert.deepEqual(V3.arch, ['aarch64']);
  const v2 = profiles.get('emulator-aarch64-gicv2')!;
  assert.equal(v2.gic, 2);
  assert.equal(v2.firmwareCode, V3.firmwareCode);
});

test('accepts refuses what the emulator cannot give, each with its reason', async () => {
  const probe = await probeHost({ firmwareDirs: [] });
  const r = acceptsEmulator(
    { ...V3, arch: ['aarch32'], acpi: 'on', smp: 2, hotplugPorts: 2, console: 'virtio-console' },
    probe,
  );
  assert.equal(r.ok, false);
  const reasons = r.ok ? [] : r.reasons;
  for (const want of [/firmware code/, /A32\/T32/, /ACPI/, /one PE/, /PL011 only/, /no PCIe root ports/])
    assert.ok(
      reasons.some((x) => want.test(x)),
      `${want}: ${reasons.join('; ')}`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-emu-refuse-'));
  try {
    await assert.rejects(
      emulatorDriver.boot(V3, { image: '/nonexistent', format: 'raw', instanceDir: dir }, probe),
      TargetRefusedError,
    );
    // Nothing started, nothing written.
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'the reference guest reaches VMFARM-READY through the emulator driver',
  { timeout: 3_600_000 },
  async (t) => {
    const probe = await probeHost();
    if (!probe.firmware['AAVMF_CODE.fd']) {
      const why = '/usr/share/AAVMF is missing (apt-get install qemu-efi-aarch64)';
      if (process.env.CI === 'true') throw new Error(why);
      return t.skip(why);
    }
    const work = mkdtempSync(join(tmpdir(), 'vmfarm-emu-driver-'));
    try {
      const image = await new Promise<string>((resolve, reject) =>
        execFile(
          'bash',
          [join(ROOT, 'fixtures/guest/build.sh'), 'aarch64', join(work, 'guest')],
          { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) =>
            err
              ? reject(new Error(`build.sh failed: ${stderr.slice(-2000)}`))
              : resolve(stdout.trim().split('\n').pop()!),
        ),
      );
      const imageHash = createHash('sha256').update(readFileSync(image)).digest('hex');
      const instanceDir = join(work, 'vm1');
      const booted = await emulatorDriver.boot(V3, { image, format: 'raw', instanceDir }, probe);
      const session = booted.session as EmulatorSession;
      assert.equal(booted.variableStore.pristine, true);
      const threadId = session.threadId;
      assert.ok(threadId !== undefined);

      await session.console.expect(/^VMFARM-READY$/m, READY_MS);
      assert.deepEqual(await session.state(), { running: true });
      // The guest answers its protocol on the console, through the worker's PL011 input.
      session.console.send('vmfarm ping\n');
      await session.console.expect(/^VMFARM-OK pong\n/m, ANSWER_MS);

      const facts = await session.platform();
      assert.equal(facts.driver, 'emulator');
      assert.equal(facts.gic.version, 3);
      assert.deepEqual(facts.description, { fdt: true, acpi: false });
      assert.equal(facts.hotplugPorts, 0);
      assert.deepEqual(await session.hotplug.status(), { ports: [] });
      await assert.rejects(booted.session.hotplug.add({ kind: 'blk' }), HostCommandError);
      assert.equal((await session.variables()).file, join(instanceDir, 'vars.fd'));

      // Reset and power cycle start the firmware again on the same machine and vars.fd.
      await session.reset();
      await session.console.expect(/UEFI firmware/, ANSWER_MS);
      await session.powerCycle();
      await session.console.expect(/UEFI firmware/, ANSWER_MS);
      assert.equal(session.threadId, threadId);

      const pending = assert.rejects(session.console.expect('never printed', READY_MS), SessionClosedError);
      await session.close();
      await pending;
      await session.close(); // idempotent
      assert.equal(session.threadId, undefined);
      assert.deepEqual(readdirSync(instanceDir).sort(), ['console.log', 'emulator.log', 'vars.fd']);
      assert.match(readFileSync(join(instanceDir, 'console.log'), 'utf8'), /VMFARM-READY/);
      // The image was never written: the guest's writes went to the overlay.
      assert.equal(createHash('sha256').update(readFileSync(image)).digest('hex'), imageHash);
      assert.ok(existsSync(image));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);
