/**
 * The qemu driver on a host reached through the transport: over SSH to this machine (a real loopback
 * sshd, TCG), and on the nested arm64 host fixtures/hosts builds, where the guest runs on KVM. The
 * nested test boots one host and one guest (224-347 s on 2 shared cores at load 13-20); set
 * VMFARM_SKIP_NESTED=1 to leave it out.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  bootNestedHost,
  isAlive,
  SshTransport,
  startLoopbackSshd,
  type HostTransport,
  type LoopbackSshd,
} from '@vmfarm/host';
import {
  boot,
  BUNDLED_PROFILES_DIR,
  loadProfileInputs,
  probeHostOver,
  qemuDriverOn,
  resolveProfiles,
  type QemuSession,
} from '../src';
import { buildGuest, qemuMissing } from './guest';

const { profiles } = resolveProfiles(loadProfileInputs(BUNDLED_PROFILES_DIR));
const READY_MS = 600_000;
const GUID = '8c1f2a4e-5e1b-4a7d-9a3c-766d6661726d';

let image = '';
let work = '';
let unavailable = '';

before(async () => {
  unavailable = await qemuMissing();
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), 'vmfarm-remote-test-'));
  image = await buildGuest(work);
});
after(() => work && rmSync(work, { recursive: true, force: true }));

/** What a session leaves on a host: QEMU processes and run directories. */
async function leftovers(t: HostTransport): Promise<string> {
  const r = await t.exec('sh', [
    '-c',
    'ls -d /tmp/vmfarm-qemu-* 2>/dev/null; ps -o pid,args 2>/dev/null || ps ax -o pid,args',
  ]);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('/tmp/vmfarm-qemu-') || (/qemu-system/.test(l) && /vmfarm-qemu-/.test(l)))
    .join('\n');
}

async function ask(
  s: { console: { send(t: string): void; expect(r: RegExp, ms: number): Promise<{ text: string }> } },
  command: string,
) {
  s.console.send(`${command}\n`);
  const name = command.split(' ')[1];
  return (await s.console.expect(new RegExp(`^VMFARM-(OK|ERR) ${name}\\b.*\\n`, 'm'), 60_000)).text.trimEnd();
}

test('over SSH: the image goes up, QEMU runs there with QMP through the connection, NVRAM and artifacts come back, nothing stays', async (t) => {
  if (unavailable) return t.skip(unavailable);
  let sshd: LoopbackSshd | null = null;
  let ssh: SshTransport | null = null;
  try {
    sshd = await startLoopbackSshd();
    ssh = await SshTransport.connect(sshd.url, { privateKey: sshd.privateKey, hostKey: sshd.hostKey });
    const driver = qemuDriverOn(ssh);
    const probe = await driver.probe();
    assert.ok(
      probe.binaries['qemu-system-aarch64'] && probe.firmware['AAVMF_VARS.fd'],
      JSON.stringify(probe),
    );
    const instanceDir = join(work, 'ssh-instance');
    const { session } = await driver.boot(
      profiles.get('qemu-aarch64-tcg')!,
      { image, format: 'raw', instanceDir },
      probe,
    );
    const s = session as QemuSession;
    const pid = s.pid!;
    try {
      await s.console.expect(/^VMFARM-READY$/m, READY_MS);
      const disk = await s.hotplug.add({ kind: 'blk' });
      assert.equal(disk.sectors, 131072);
      // The guest takes the device (pciehp, then virtio-blk) before it can give it back.
      for (let i = 0; i < 40 && !/ n=2 /.test(await ask(s, 'vmfarm blk')); i++)
        await new Promise((r) => setTimeout(r, 500));
      await s.hotplug.remove(disk);
      assert.equal(await ask(s, `vmfarm setvar VmfarmRemote ${GUID} 6869`), 'VMFARM-OK setvar');
      await s.powerCycle();
      await s.console.expect(/^VMFARM-READY$/m, READY_MS);
      assert.equal(
        await ask(s, `vmfarm getvar VmfarmRemote ${GUID}`),
        'VMFARM-OK getvar attributes=00000007 data=6869',
      );
      assert.equal((await s.variables()).file, join(instanceDir, 'vars.fd'));
      assert.ok(readFileSync(join(instanceDir, 'vars.fd')).includes(Buffer.from('VmfarmRemote', 'utf16le')));
    } finally {
      await s.close();
    }
    assert.equal(isAlive(pid), false, 'QEMU is gone');
    assert.equal(await leftovers(ssh), '');
    assert.match(readFileSync(join(instanceDir, 'qmp.jsonl'), 'utf8'), /connected to ssh:\/\/.* port \d+/);
    assert.deepEqual(readdirSync(instanceDir).sort(), ['console.log', 'qemu.log', 'qmp.jsonl', 'vars.fd']);
  } finally {
    await ssh?.close();
    await sshd?.stop();
  }
});

test('on the nested arm64 host: qemu-aarch64-kvm boots the reference guest on KVM through SSH and leaves nothing', async (t) => {
  if (unavailable) return t.skip(unavailable);
  if (process.env.VMFARM_SKIP_NESTED === '1') return t.skip('VMFARM_SKIP_NESTED=1');
  const host = await bootNestedHost({ additions: ['kvm'], outDir: join(work, 'host') });
  try {
    assert.match(
      await host.transport.exec('dmesg', []).then((r) => r.stdout),
      /kvm \[1\]: Hyp mode initialized successfully/,
    );
    const probe = await probeHostOver(host.transport);
    assert.equal(probe.hostArch, 'arm64');
    assert.deepEqual(probe.kvm, { device: true, usable: true, arm64: true });
    assert.ok(probe.firmware['AAVMF_CODE.fd'] && probe.binaries['qemu-img']);
    const kvm = profiles.get('qemu-aarch64-kvm')!;
    const instanceDir = join(work, 'kvm-instance');
    const s = await boot(kvm, {
      image,
      format: 'raw',
      instanceDir,
      probe,
      transport: host.transport,
      startTimeoutMs: 120_000,
    });
    try {
      await s.console.expect(/^VMFARM-READY$/m, READY_MS);
      assert.match(s.commandLine, / -accel kvm -cpu host /);
      assert.deepEqual(await s.qmp.execute('query-kvm'), { enabled: true, present: true });
      assert.match(s.console.transcript(), /^gic=v3$/m);
    } finally {
      await s.close();
    }
    assert.equal(await leftovers(host.transport), '');
    assert.ok(existsSync(join(instanceDir, 'vars.fd')));
  } finally {
    await host.stop();
  }
});
