/**
 * Real QEMU against the reference guest (fixtures/guest). One VM at a time. Needs qemu-system-arm,
 * qemu-utils and qemu-efi-aarch64; build.sh needs root the first time (apt) and caches the image.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { isAlive } from '@vmfarm/host';
import { BootError, SessionTimeoutError, TargetRefusedError, VmExitedError } from '@vmfarm/session';
import {
  boot,
  BUNDLED_PROFILES_DIR,
  loadProfileInputs,
  probeHost,
  resolveProfiles,
  type QemuSession,
} from '../src';
import { buildGuest, qemuMissing } from './guest';

const { profiles } = resolveProfiles(loadProfileInputs(BUNDLED_PROFILES_DIR));
const AARCH64 = profiles.get('qemu-aarch64-tcg')!;
/** Generous: TCG boots take 5 s idle and 16 s at load 7.5 on this machine. */
const READY_MS = 180_000;
const ANSWER_MS = 20_000;
const GUID = '8c1f2a4e-5e1b-4a7d-9a3c-766d6661726d';

let image = '';
let work = '';
let unavailable = '';

before(async () => {
  unavailable = await qemuMissing();
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), 'vmfarm-targets-test-'));
  image = await buildGuest(work);
});

process.on('exit', () => work && rmSync(work, { recursive: true, force: true }));

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Processes whose command line names `dir` (a QEMU of this test left running would). */
function processesUsing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Sends a protocol command and returns its answer line. */
async function ask(s: QemuSession, command: string): Promise<string> {
  s.console.send(`${command}\n`);
  const name = command.split(' ')[1];
  // Up to the newline: `$` would also match the end of a line still arriving.
  return (
    await s.console.expect(new RegExp(`^VMFARM-(OK|ERR) ${name}\\b.*\\n`, 'm'), ANSWER_MS)
  ).text.trimEnd();
}

/** Asks until the answer matches: the guest's pciehp and virtio drivers probe a hot-added function within a moment. */
async function askUntil(s: QemuSession, command: string, wanted: RegExp): Promise<string> {
  let answer = await ask(s, command);
  for (let i = 0; i < 20 && !wanted.test(answer); i++) {
    await new Promise((r) => setTimeout(r, 500));
    answer = await ask(s, command);
  }
  return answer;
}

function assertNothingLeft(s: QemuSession, instanceDir: string, pid: number) {
  assert.equal(isAlive(pid), false, `QEMU ${pid} still runs`);
  assert.deepEqual(processesUsing(instanceDir), []);
  assert.deepEqual(
    readdirSync(instanceDir).filter((f) => f.startsWith('.run-')),
    [],
    'the run directory (QMP socket, disk overlay, scratch disks) is removed',
  );
  assert.equal(s.pid, pid);
}

test('boot, console protocol, blk and net hotplug, a stuck unplug, NVRAM across reset and power cycle, guest poweroff, close', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const instanceDir = join(work, 'instance-1');
  const imageSum = sha256(image);
  const s = await boot(AARCH64, { image, format: 'raw', instanceDir });
  const pid = s.pid!;
  try {
    const ready = await s.console.expect(/^VMFARM-READY$/m, READY_MS);
    assert.ok(s.console.transcript().slice(0, ready.index).includes('VMFARM-REPORT-BEGIN'));
    assert.match(await ask(s, 'vmfarm blk'), /^VMFARM-OK blk n=1 vda=266240@/);

    const disk = await s.hotplug.add({ kind: 'blk' });
    const nic = await s.hotplug.add({ kind: 'net' });
    assert.deepEqual(
      [disk.port, disk.sectors, nic.port, nic.mac],
      ['rp1', 131072, 'rp2', '52:54:00:76:6d:02'],
    );
    assert.match(
      await askUntil(s, 'vmfarm blk', /n=2/),
      /^VMFARM-OK blk n=2 vda=266240@0000:00:01\.0 vdb=131072@0000:01:00\.0$/,
    );
    assert.equal(await ask(s, 'vmfarm net'), `VMFARM-OK net n=1 eth0=${nic.mac}@0000:02:00.0`);

    // Both unplugs at once: the guest's pciehp waits 5 s per slot, in parallel.
    const events = await Promise.all([s.hotplug.remove(disk), s.hotplug.remove(nic)]);
    assert.deepEqual(
      events.map((e) => [e.event, e.data?.device]),
      [
        ['DEVICE_DELETED', disk.id],
        ['DEVICE_DELETED', nic.id],
      ],
    );
    assert.match(await ask(s, 'vmfarm blk'), /^VMFARM-OK blk n=1 /);
    assert.equal(await ask(s, 'vmfarm net'), 'VMFARM-OK net n=0');

    // NVRAM: a variable set by the guest survives a warm reset and a full QEMU restart on the same VARS file.
    assert.equal(await ask(s, `vmfarm setvar VmfarmTargets ${GUID} 68656c6c6f`), 'VMFARM-OK setvar');
    await s.reset();
    await s.console.expect(/^VMFARM-READY$/m, READY_MS);
    assert.equal(s.pid, pid);
    assert.equal(
      await ask(s, `vmfarm getvar VmfarmTargets ${GUID}`),
      'VMFARM-OK getvar attributes=00000007 data=68656c6c6f',
    );
    await s.powerCycle();
    assert.notEqual(s.pid, pid);
    await s.console.expect(/^VMFARM-READY$/m, READY_MS);
    assert.equal(
      await ask(s, `vmfarm getvar VmfarmTargets ${GUID}`),
      'VMFARM-OK getvar attributes=00000007 data=68656c6c6f',
    );
    assert.equal((await s.variables()).file, join(instanceDir, 'vars.fd'));

    // A guest that has taken the device but no longer answers (vCPU stopped) does not release it:
    // the unplug wait ends with the reason; the plug is left to close().
    const stuck = await s.hotplug.add({ kind: 'blk' });
    await askUntil(s, 'vmfarm blk', /n=2/);
    await s.qmp.execute('stop');
    await assert.rejects(
      s.hotplug.remove(stuck, 1000),
      new RegExp(
        `^SessionTimeoutError: timed out after 1000 ms awaiting QMP event DEVICE_DELETED for ${stuck.id} ` +
          `\\(the guest must release the device\\); last console lines: `,
      ),
    );
    await s.qmp.execute('cont');

    // The guest powers off: QEMU exits and a wait says so instead of running into its timeout.
    const secondPid = s.pid!;
    s.console.send('vmfarm poweroff\n');
    await assert.rejects(s.console.expect(/never printed/, READY_MS), (err: VmExitedError) => {
      assert.ok(err instanceof VmExitedError, String(err));
      assert.match(err.message, /^QEMU exited with status 0 while awaiting console \/never printed\/; /);
      return true;
    });
    await s.close();
    await s.close(); // idempotent
    assert.equal(isAlive(pid), false);
    assertNothingLeft(s, instanceDir, secondPid);
  } finally {
    await s.close();
  }

  const qmp = readFileSync(join(instanceDir, 'qmp.jsonl'), 'utf8');
  for (const wanted of [
    '"blockdev-add"',
    '"netdev_add"',
    '"device_del"',
    '"DEVICE_DELETED"',
    '"system_reset"',
    '"quit"',
  ])
    assert.ok(qmp.includes(wanted), `the QMP transcript has ${wanted}`);
  assert.match(
    readFileSync(join(instanceDir, 'console.log'), 'utf8'),
    /VMFARM-OK getvar attributes=00000007/,
  );
  assert.match(readFileSync(join(instanceDir, 'qemu.log'), 'utf8'), /^\S*qemu-system-aarch64 -nodefaults /);
  assert.equal(sha256(image), imageSum, 'the image file is never written');
});

test('a hung guest: the wait times out naming what it awaited, and close leaves nothing', async (t) => {
  if (unavailable) return t.skip(unavailable);
  // Long enough that the QMP socket cannot live in it (sun_path is 108 bytes): the fallback goes too.
  const instanceDir = join(work, 'instance-2-'.padEnd(110, 'x'));
  const before = readdirSync(tmpdir()).filter((f) => f.startsWith('vmfarm-qmp-'));
  const s = await boot(AARCH64, { image, format: 'raw', instanceDir });
  const pid = s.pid!;
  try {
    await s.qmp.execute('stop'); // the vCPU stops: the guest never gets to VMFARM-READY
    await assert.rejects(s.console.expect(/^VMFARM-READY$/m, 1500), (err: SessionTimeoutError) => {
      assert.ok(err instanceof SessionTimeoutError, String(err));
      assert.equal(err.awaited, 'console /^VMFARM-READY$/m');
      assert.match(
        err.message,
        /^timed out after 1500 ms awaiting console \/\^VMFARM-READY\$\/m; last console lines: /,
      );
      return true;
    });
    await assert.rejects(s.qmp.execute('no-such-command'), /QMP no-such-command failed: CommandNotFound/);
  } finally {
    await s.close();
  }
  assertNothingLeft(s, instanceDir, pid);
  assert.deepEqual(
    readdirSync(tmpdir()).filter((f) => f.startsWith('vmfarm-qmp-')),
    before,
  );
  assert.ok(existsSync(join(instanceDir, 'vars.fd')));
});

test('a profile the host cannot run is refused before anything starts, with the reason', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const probe = await probeHost();
  if (probe.kvm.arm64) return t.skip('this host runs arm64 guests on KVM');
  await assert.rejects(
    boot(profiles.get('qemu-aarch64-kvm')!, {
      image,
      format: 'raw',
      instanceDir: join(work, 'instance-3'),
      probe,
    }),
    (err: TargetRefusedError) => {
      assert.ok(err instanceof TargetRefusedError && err instanceof BootError);
      assert.match(
        err.message,
        /^target qemu-aarch64-kvm cannot run here: KVM cannot run an arm64 guest here: /,
      );
      return true;
    },
  );
  assert.equal(existsSync(join(work, 'instance-3')), false);
  await assert.rejects(
    boot(AARCH64, {
      image,
      format: 'raw',
      instanceDir: join(work, 'instance-4'),
      overrides: { gic: 2, smp: 9 },
      probe,
    }),
    /GICv2 supports at most 8 vCPUs, the profile asks for 9/,
  );
});
