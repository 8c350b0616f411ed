/**
 * The xen driver on a real Xen 4.17: the nested arm64 host of fixtures/hosts built `--with xen` and
 * booted by boot.sh with its boot-args (Xen under QEMU TCG, that host as dom0), driven over SSH. XEN_EFI.fd comes
 * from fixtures/xen-efi/build.sh (cached; about 6 minutes to build here the first time), the guest
 * from fixtures/guest/build.sh; the guest's kernel and initrd (off its ESP, with mtools) are the
 * kernel of the direct profile. Several minutes under TCG; VMFARM_SKIP_NESTED=1 leaves it out.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bootNestedHost, type NestedHost } from '@vmfarm/host';
import { HostCommandError, TargetRefusedError } from '@vmfarm/session';
import {
  bootXen,
  BUNDLED_PROFILES_DIR,
  loadXenProfiles,
  probeXenHost,
  xenDriver,
  type XenProbe,
  type XenSession,
} from '../src';

const ROOT = join(__dirname, '../../../..');
const { profiles } = loadXenProfiles(BUNDLED_PROFILES_DIR);
/** xl create runs bash hotplug scripts in a TCG dom0: tens of seconds, minutes on a loaded machine. */
const READY_MS = 900_000;
const ANSWER_MS = 60_000;
const FIRMWARE_DIR = '/usr/share/xen-efi';

let work = '';
let image = '';
let host: NestedHost | null = null;
let probe: XenProbe;
const skip = process.env.VMFARM_SKIP_NESTED === '1' ? 'VMFARM_SKIP_NESTED=1' : false;

function run(file: string, args: string[], timeout = 1_800_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${file} ${args.join(' ')}: ${String(stderr).slice(-2000)}`))
        : resolve(String(stdout)),
    ),
  );
}
const lastLine = (s: string) => s.trim().split('\n').pop()!;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'vmfarm-xen-test-'));
  const firmware = lastLine(await run('bash', [join(ROOT, 'fixtures/xen-efi/build.sh'), join(work, 'efi')]));
  image = lastLine(
    await run('bash', [join(ROOT, 'fixtures/guest/build.sh'), 'aarch64', join(work, 'guest')]),
  );
  // The reference guest's kernel and initrd, for the direct profile (the ESP starts at 1 MiB).
  for (const f of ['linux', 'initrd'])
    await run('mcopy', ['-n', '-i', `${image}@@1M`, `::/vmfarm/${f}`, join(work, `vmfarm-guest-${f}`)]);
  host = await bootNestedHost({
    additions: ['xen'],
    outDir: join(work, 'host'),
    memory: '3G',
    timeoutMs: 1_200_000,
  });
  const t = host.transport;
  await t.exec('mkdir', ['-p', FIRMWARE_DIR]);
  await t.upload(firmware, `${FIRMWARE_DIR}/XEN_EFI.fd`);
  for (const f of ['linux', 'initrd'])
    await t.upload(join(work, `vmfarm-guest-${f}`), `${FIRMWARE_DIR}/vmfarm-guest-${f}`);
  probe = await probeXenHost(t);
});

after(async () => {
  await host?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What the dom0 still holds of a closed session: domains, loop devices, the run dir. */
async function leftovers(s: XenSession): Promise<string[]> {
  const t = host!.transport;
  const found: string[] = [];
  if ((await t.exec('xl', ['list', s.name])).code === 0) found.push(`domain ${s.name}`);
  const loops = (await t.exec('losetup', ['-a'])).stdout.trim();
  if (loops) found.push(`loop devices: ${loops}`);
  if (await t.exec('test', ['-e', s.hostDir]).then((r) => r.code === 0)) found.push(s.hostDir);
  return found;
}

test('the probe reads xl version and free memory; both profiles are accepted', { skip }, () => {
  assert.match(probe.xenVersion ?? '', /^4\.17\./);
  assert.ok(probe.freeMemoryMiB! > 512, `free memory ${probe.freeMemoryMiB}`);
  assert.equal(probe.gic, 3);
  assert.deepEqual(probe.bridges, ['xenbr0']);
  for (const id of ['xen-aarch64', 'xen-aarch64-direct'])
    assert.deepEqual(xenDriver(host!.transport).accepts(profiles.get(id)!, probe), { ok: true }, id);
});

test('an override Xen cannot give is refused before anything starts', { skip }, async () => {
  const boot = xenDriver(host!.transport).boot(
    profiles.get('xen-aarch64')!,
    { image, format: 'raw', instanceDir: join(work, 'refused'), overrides: { acpi: 'on', gic: 2 } },
    probe,
  );
  await assert.rejects(boot, (e: unknown) => e instanceof TargetRefusedError && e.reasons.length === 2);
});

test(
  'UEFI domain: XEN_EFI.fd starts on the PV console; what happens next is recorded, and close leaves nothing',
  { skip },
  async () => {
    const instanceDir = join(work, 'uefi');
    const booted = await xenDriver(host!.transport).boot(
      profiles.get('xen-aarch64')!,
      { image, format: 'raw', instanceDir },
      probe,
    );
    const s = booted.session as XenSession;
    try {
      assert.equal(booted.variableStore.pristine, true);
      // The firmware's banner: the console is attached before the domain runs, so nothing is lost.
      await s.console.expect(/UEFI firmware \(version 2022\.11/, READY_MS);
      const end = await s.console.expect(/^VMFARM-READY$|kernel BUG at .*|Kernel panic.*/m, READY_MS);
      // The finding on Xen 4.17 (docs/xen.md): the guest kernel dies in xen_guest_init under XEN_EFI.
      console.log(`# XEN_EFI on Xen ${probe.xenVersion}: ${end.text}`);
      const facts = await s.platform();
      assert.equal(facts.variableStore?.persistent, false);
      await assert.rejects(s.variables(), HostCommandError);
    } finally {
      await s.close();
    }
    assert.deepEqual(await leftovers(s), []);
    assert.match(readFileSync(join(instanceDir, 'console.log'), 'utf8'), /Tianocore\/EDK2 firmware/);
    assert.ok(existsSync(join(instanceDir, 'xl.log')));
  },
);

test(
  'direct domain: PV disk and NIC hot-added and removed with xenstore and guest evidence; power cycle',
  { skip },
  async () => {
    const s = await bootXen(
      host!.transport,
      profiles.get('xen-aarch64-direct')!,
      { image, format: 'raw', instanceDir: join(work, 'direct') },
      probe,
    );
    const ask = async (cmd: string) => {
      s.console.send(`vmfarm ${cmd}\n`);
      return (await s.console.expect(new RegExp(`^VMFARM-OK ${cmd} .*\\n`, 'm'), ANSWER_MS)).text;
    };
    try {
      await s.console.expect(/^VMFARM-READY$/m, READY_MS);
      assert.deepEqual(await s.state(), { running: true });
      assert.match(await ask('blk'), /n=1 xvda=266240/);

      const disk = await s.hotplug.add({ kind: 'blk' });
      assert.equal(disk.id, 'xvdb');
      assert.equal((await s.hotplug.status()).ports.find((p) => p.id === 'xvdb')?.device, 'xvdb');
      assert.equal((await s.hotplug.driver(disk)).ready, true);
      assert.match(await ask('blk'), /n=2 .*xvdb=131072/);
      const gone = await s.hotplug.remove(disk);
      assert.equal(gone.event, 'XEN_DEVICE_REMOVED');
      assert.equal(gone.data?.frontendStateBefore, '4 (Connected)');
      assert.match(await ask('blk'), /n=1 xvda/);

      const nic = await s.hotplug.add({ kind: 'net' });
      assert.equal((await s.hotplug.driver(nic)).ready, true);
      assert.match(await ask('net'), new RegExp(`n=2 .*=${nic.mac}`));
      assert.equal((await s.hotplug.remove(nic)).event, 'XEN_DEVICE_REMOVED');
      assert.match(await ask('net'), /n=1 /);

      const first = s.domainId;
      await s.hotplug.add({ kind: 'blk' });
      await s.powerCycle();
      await s.console.expect(/^VMFARM-READY$/m, READY_MS);
      assert.notEqual(s.domainId, first);
      assert.deepEqual(
        (await s.hotplug.status()).ports.filter((p) => p.device),
        [],
        'a power cycle drops hot-added devices',
      );
      assert.match(await ask('blk'), /n=1 xvda/);
    } finally {
      await s.close();
    }
    assert.deepEqual(await leftovers(s), []);
    await assert.rejects(s.console.expect(/never/, 1000), /closed/);
  },
);
