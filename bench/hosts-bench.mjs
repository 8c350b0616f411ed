#!/usr/bin/env node
// The nested arm64 KVM host (fixtures/hosts) and guests on it, in one run:
//  - host boot: seconds from its QEMU's start (TCG, EL2) to root logged in over SSH;
//  - per target on that host (qemu-aarch64-kvm, then qemu-aarch64-tcg): the boot suite on the reference
//    guest, with the seconds to move the image there and start QEMU, and from QEMU's start to the
//    guest's VMFARM-READY, and the suite's verdicts, compared clause by clause;
//  - the same on qemu-aarch64-tcg on this machine (the reference), and the ratios.
// The nested profiles get long stage limits (an emulated host is slow; a real one needs none).
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
let host, targets, suites;
try {
  host = require(join(root, 'libs/host/dist/src/index.js'));
  targets = require(join(root, 'libs/targets/dist/src/index.js'));
  suites = require(join(root, 'libs/suites/dist/src/index.js'));
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

/**
 * The boot suite on `profile` through `transport`: seconds to start QEMU (image upload included), from
 * then to VMFARM-READY on the console, and the verdicts.
 */
async function bootSuite(profile, transport, name) {
  const driver = targets.qemuDriverOn(transport);
  const probe = await driver.probe();
  const times = {};
  const sessions = [];
  let n = 0;
  const vm = {
    boot: async (overrides) => {
      const t0 = Date.now();
      const instanceDir = join(work, `${name}-${++n}`);
      const booted = await driver.boot(profile, { image, format: 'raw', instanceDir, overrides }, probe);
      const t1 = Date.now();
      times.start ??= t1 - t0;
      sessions.push(booted.session);
      // Seen as the output arrives, not awaited through the console: the suite's own waits read it.
      const { console: out } = booted.session;
      const append = out.append.bind(out);
      const seen = () =>
        (times.ready ??= /^VMFARM-READY\r?$/m.test(out.transcript()) ? Date.now() - t1 : undefined);
      out.append = (chunk) => (append(chunk), seen());
      seen();
      return { ...booted, startedAt: t1 };
    },
  };
  try {
    const out = await suites.bootSuite.run({
      imagePath: image,
      arch: 'aarch64',
      target: profile,
      signal: new AbortController().signal,
      vm,
    });
    return {
      ...times,
      verdicts: Object.fromEntries(out.verdicts.map((v) => [v.clause, `${v.verdict}`])),
      messages: out.verdicts.map((v) => `${v.clause} ${v.verdict}: ${v.message}`),
    };
  } finally {
    await Promise.all(sessions.map((x) => x.close()));
  }
}

const slow = (p) => ({ ...p, stageLimits: { ...p.stageLimits, boot: 900, ready: 1800, attempt: 7200 } });
const print = (what, r) => {
  console.log(
    `${what.padEnd(40)} start ${s(r.start).padStart(6)} s   ready ${r.ready === undefined ? '  never' : s(r.ready).padStart(7)} s   ` +
      Object.entries(r.verdicts)
        .map(([c, v]) => `${c}:${v}`)
        .join(' '),
  );
  for (const m of r.messages) console.log(`    ${m}`);
};
console.log(`hosts-bench: ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} at start`);
const local = await bootSuite(profiles.get('qemu-aarch64-tcg'), undefined, 'local-tcg');
print('qemu-aarch64-tcg on this machine', local);
// HOST_CPU=max,pauth-impdef=on gives the host VHE (see docs/hosts.md); cortex-a57 by default.
const nested = await host.bootNestedHost({
  additions: ['kvm'],
  outDir: join(work, 'host'),
  cpu: process.env.HOST_CPU,
});
try {
  console.log(
    `${'nested arm64 host boot (TCG, EL2)'.padEnd(40)} ${s(nested.bootSeconds * 1000).padStart(6)} s to SSH`,
  );
  const kvm = await bootSuite(slow(profiles.get('qemu-aarch64-kvm')), nested.transport, 'nested-kvm');
  print('qemu-aarch64-kvm on the nested host', kvm);
  console.log(`  ratio nested KVM ready / local TCG ready: ${(kvm.ready / local.ready).toFixed(2)}`);
  if (!skipNestedTcg) {
    const tcg = await bootSuite(slow(profiles.get('qemu-aarch64-tcg')), nested.transport, 'nested-tcg');
    print('qemu-aarch64-tcg on the nested host', tcg);
    console.log(`  ratio nested TCG ready / nested KVM ready: ${(tcg.ready / kvm.ready).toFixed(2)}`);
    const differ = Object.keys(kvm.verdicts).filter((c) => kvm.verdicts[c] !== tcg.verdicts[c]);
    console.log(
      `  KVM vs TCG on the nested host, clause by clause: ${differ.length ? `differ on ${differ.map((c) => `${c} (${kvm.verdicts[c]} vs ${tcg.verdicts[c]})`).join(', ')}` : 'the same verdicts'}`,
    );
  }
} finally {
  await nested.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`load ${loadavg()[0].toFixed(1)} at the end`);
