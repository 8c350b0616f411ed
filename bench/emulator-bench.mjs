#!/usr/bin/env node
// Guest MIPS of the bundled emulator and of qemu-aarch64 on the same compute-heavy static binaries
// (bench/emulator-bench.c: a hash loop, a sort, a bytecode interpreter), whole process included:
// each figure is guest instructions / wall time of `vmfarm emulate ELF` resp. `qemu-aarch64 ELF`.
// The instruction count is the emulator's (the same binary retires the same instructions under both;
// qemu has no counter without TCG plugins). Best of RUNS runs each.
// Usage (after `npm run build` and libs/emulator/scripts/test-deps.sh): node bench/emulator-bench.mjs
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.RUNS ?? 3);
const cli = join(root, 'apps/cli/bin/vmfarm.js');

const deps = spawnSync('bash', [join(root, 'libs/emulator/scripts/test-deps.sh')], { encoding: 'utf8' });
if (deps.status !== 0) {
  process.stderr.write(`emulator-bench: test-deps.sh failed: ${deps.stderr}`);
  process.exit(2);
}
const elf = join(deps.stdout.trim().split('\n')[0], 'emulator-bench');

function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { s, stdout: r.stdout, stderr: r.stderr };
}

const rows = [];
for (const workload of ['hash', 'sort', 'interp']) {
  let emu = Infinity;
  let qemu = Infinity;
  let insns = 0;
  let out = '';
  for (let k = 0; k < RUNS; k++) {
    const e = timed(process.execPath, [cli, 'emulate', '--stats', elf, workload]);
    insns = Number(/(\d+) instructions/.exec(e.stderr)?.[1] ?? 0);
    out = e.stdout;
    emu = Math.min(emu, e.s);
    const q = timed('qemu-aarch64', [elf, workload]);
    if (q.stdout !== out)
      throw new Error(`${workload}: outputs differ (${q.stdout.trim()} vs ${out.trim()})`);
    qemu = Math.min(qemu, q.s);
  }
  rows.push({ workload, insns, emu, qemu });
}

const pad = (s, n) => String(s).padStart(n);
console.log(
  `${'workload'.padEnd(8)} ${pad('Minsn', 8)} ${pad('emu s', 7)} ${pad('emu MIPS', 9)} ${pad('qemu s', 7)} ${pad('qemu MIPS', 10)} ${pad('ratio', 6)}`,
);
let ge = 0;
let gq = 0;
for (const r of rows) {
  const em = r.insns / r.emu / 1e6;
  const qm = r.insns / r.qemu / 1e6;
  ge += Math.log(em);
  gq += Math.log(qm);
  console.log(
    `${r.workload.padEnd(8)} ${pad((r.insns / 1e6).toFixed(1), 8)} ${pad(r.emu.toFixed(2), 7)} ${pad(em.toFixed(1), 9)} ${pad(r.qemu.toFixed(2), 7)} ${pad(qm.toFixed(0), 10)} ${pad((qm / em).toFixed(1) + 'x', 6)}`,
  );
}
const emG = Math.exp(ge / rows.length);
const qG = Math.exp(gq / rows.length);
console.log(
  `geomean: emulator ${emG.toFixed(1)} MIPS, qemu-aarch64 ${qG.toFixed(0)} MIPS, ratio ${(qG / emG).toFixed(1)}x`,
);
