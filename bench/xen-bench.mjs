#!/usr/bin/env node
// Xen domUs on the nested Xen 4.17 host (fixtures/hosts --with xen, booted by boot.sh with its boot-args), one run:
//  - host boot: seconds from its QEMU's start (TCG, EL2) to root logged in over SSH in the dom0;
//  - xen-aarch64-direct: seconds to move the image there and `xl create` the domain, then from the
//    domain's start to the reference guest's VMFARM-READY;
//  - xen-aarch64 (XEN_EFI.fd): seconds from the domain's start to the firmware's banner and to the
//    guest kernel's end (VMFARM-READY, or the BUG it dies of on 4.17);
//  - the same guest on qemu-aarch64-tcg on this machine (the reference), and the ratio.
// One VM at a time, at nice 10. Usage (after `npm run build`, as root the first time: apt):
//   node bench/xen-bench.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
let host, targets;
try {
  host = require(join(root, 'libs/host/dist/src/index.js'));
  targets = require(join(root, 'libs/targets/dist/src/index.js'));
} catch {
  process.stderr.write('xen-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}
const READY_MS = 1_200_000;
const work = mkdtempSync(join(tmpdir(), 'vmfarm-xen-bench-'));
const out = (args) =>
  execFileSync('bash', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop();
const image = out([join(root, 'fixtures/guest/build.sh'), 'aarch64', join(work, 'guest')]);
const firmware = out([join(root, 'fixtures/xen-efi/build.sh'), join(work, 'efi')]);
for (const f of ['linux', 'initrd'])
  execFileSync('mcopy', ['-n', '-i', `${image}@@1M`, `::/vmfarm/${f}`, join(work, `vmfarm-guest-${f}`)]);
const s = (ms) => (ms / 1000).toFixed(1);
const row = (what, text) => console.log(`${what.padEnd(44)} ${text}`);

console.log(`xen-bench: ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} at start`);
const { profiles: qemuProfiles } = targets.resolveProfiles(
  targets.loadProfileInputs(targets.BUNDLED_PROFILES_DIR),
);
const t0 = Date.now();
const local = await targets.boot(qemuProfiles.get('qemu-aarch64-tcg'), {
  image,
  format: 'raw',
  instanceDir: join(work, 'local'),
});
const t1 = Date.now();
let localReady;
try {
  await local.console.expect(/^VMFARM-READY$/m, READY_MS);
  localReady = Date.now() - t1;
} finally {
  await local.close();
}
row('qemu-aarch64-tcg on this machine', `start ${s(t1 - t0)} s   ready ${s(localReady)} s`);

const nested = await host.bootNestedHost({
  additions: ['xen'],
  outDir: join(work, 'host'),
  memory: '3G',
  timeoutMs: READY_MS,
});
try {
  row('nested Xen host boot (TCG, EL2)', `${s(nested.bootSeconds * 1000)} s to SSH in dom0`);
  const t = nested.transport;
  await t.exec('mkdir', ['-p', '/usr/share/xen-efi']);
  await t.upload(firmware, '/usr/share/xen-efi/XEN_EFI.fd');
  for (const f of ['linux', 'initrd'])
    await t.upload(join(work, `vmfarm-guest-${f}`), `/usr/share/xen-efi/vmfarm-guest-${f}`);
  const probe = await targets.probeXenHost(t);
  row('Xen', `${probe.xenVersion}, ${probe.freeMemoryMiB} MiB free`);
  const { profiles } = targets.loadXenProfiles(targets.BUNDLED_PROFILES_DIR);

  const d0 = Date.now();
  const direct = await targets.bootXen(
    t,
    profiles.get('xen-aarch64-direct'),
    { image, format: 'raw', instanceDir: join(work, 'direct') },
    probe,
  );
  const d1 = Date.now();
  let directReady;
  try {
    await direct.console.expect(/^VMFARM-READY$/m, READY_MS);
    directReady = Date.now() - d1;
  } finally {
    await direct.close();
  }
  row('xen-aarch64-direct on the nested Xen', `start ${s(d1 - d0)} s   ready ${s(directReady)} s`);
  console.log(`  ratio nested Xen direct ready / local TCG ready: ${(directReady / localReady).toFixed(2)}`);

  const e0 = Date.now();
  const efi = await targets.bootXen(
    t,
    profiles.get('xen-aarch64'),
    { image, format: 'raw', instanceDir: join(work, 'efi-domain') },
    probe,
  );
  const e1 = Date.now();
  try {
    await efi.console.expect(/UEFI firmware \(version/, READY_MS);
    const banner = Date.now() - e1;
    const end = await efi.console.expect(/^VMFARM-READY$|kernel BUG at .*|Kernel panic.*/m, READY_MS);
    row(
      'xen-aarch64 (XEN_EFI) on the nested Xen',
      `start ${s(e1 - e0)} s   firmware banner ${s(banner)} s   ${JSON.stringify(end.text)} ${s(Date.now() - e1)} s`,
    );
  } finally {
    await efi.close();
  }
} finally {
  await nested.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`load ${loadavg()[0].toFixed(1)} at the end`);
