#!/usr/bin/env node
// The nested arm64 KVM host (fixtures/hosts) and guests on it, in one run:
//  - host boot: seconds from its QEMU's start (TCG, EL2) to root logged in over SSH;
//  - per target on that host (qemu-aarch64-kvm, then qemu-aarch64-tcg): seconds to move the image
//    there and start QEMU, and seconds from QEMU's start to the reference guest's VMFARM-READY;
//  - the same guest on qemu-aarch64-tcg on this machine (the reference), and the ratios.
// One VM at a time, at nice 10. Usage (after `npm run build`, as root the first time: apt):
//   node bench/hosts-bench.mjs [--skip-nested-tcg]
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
  process.stderr.write('hosts-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}
const READY_MS = 1_200_000;
const skipNestedTcg = process.argv.includes('--skip-nested-tcg');
const work = mkdtempSync(join(tmpdir(), 'vmfarm-hosts-bench-'));
const { profiles } = targets.resolveProfiles(targets.loadProfileInputs(targets.BUNDLED_PROFILES_DIR));
const image = execFileSync('bash', [join(root, 'fixtures/guest/build.sh'), 'aarch64', join(work, 'guest')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
})
  .trim()
  .split('\n')
  .pop();
const s = (ms) => (ms / 1000).toFixed(1);

/** Boots `profile` through `transport`; the seconds to start QEMU (image upload included) and to ready. */
async function guest(profile, transport, name) {
  const t0 = Date.now();
  const session = await targets.boot(profile, {
    image,
    format: 'raw',
    instanceDir: join(work, name),
    transport,
    startTimeoutMs: 300_000,
  });
  const t1 = Date.now();
  try {
    await session.console.expect(/^VMFARM-READY$/m, READY_MS);
    return { start: t1 - t0, ready: Date.now() - t1 };
  } finally {
    await session.close();
  }
}

const print = (what, r) =>
  console.log(`${what.padEnd(40)} start ${s(r.start).padStart(6)} s   ready ${s(r.ready).padStart(7)} s`);
console.log(`hosts-bench: ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} at start`);
const local = await guest(profiles.get('qemu-aarch64-tcg'), undefined, 'local-tcg');
print('qemu-aarch64-tcg on this machine', local);
const nested = await host.bootNestedHost({ additions: ['kvm'], outDir: join(work, 'host') });
try {
  console.log(
    `${'nested arm64 host boot (TCG, EL2)'.padEnd(40)} ${s(nested.bootSeconds * 1000).padStart(6)} s to SSH`,
  );
  const kvm = await guest(profiles.get('qemu-aarch64-kvm'), nested.transport, 'nested-kvm');
  print('qemu-aarch64-kvm on the nested host', kvm);
  console.log(`  ratio nested KVM ready / local TCG ready: ${(kvm.ready / local.ready).toFixed(2)}`);
  if (!skipNestedTcg) {
    const tcg = await guest(profiles.get('qemu-aarch64-tcg'), nested.transport, 'nested-tcg');
    print('qemu-aarch64-tcg on the nested host', tcg);
    console.log(`  ratio nested TCG ready / nested KVM ready: ${(tcg.ready / kvm.ready).toFixed(2)}`);
  }
} finally {
  await nested.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`load ${loadavg()[0].toFixed(1)} at the end`);
