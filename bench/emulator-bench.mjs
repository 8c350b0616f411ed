#!/usr/bin/env node
// Guest MIPS of the bundled emulator and of qemu-aarch64 on the same compute-heavy static binaries
// (bench/emulator-bench.c: a hash loop, a sort, a bytecode interpreter), whole process included:
// each figure is guest instructions / wall time of `vmfarm emulate ELF` resp. `qemu-aarch64 ELF`.
// The instruction count is the emulator's (the same binary retires the same instructions under both;
// qemu has no counter without TCG plugins). Best of RUNS runs each.
// System mode: the `hash` and `interp` workloads as a bare-metal EL1 image
// (bench/emulator-bench-system.c), MMU off and MMU on (4 KiB pages), on the system-mode CPU in this
// process vs `qemu-system-aarch64 -M virt -cpu cortex-a57 -kernel IMAGE` (whole process, as above;
// skipped when qemu-system-aarch64 is missing). Instructions are the emulator's count.
// Usage (after `npm run build` and libs/emulator/scripts/test-deps.sh): node bench/emulator-bench.mjs
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
const programs = deps.stdout.trim().split('\n')[0];
const elf = join(programs, 'emulator-bench');

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

/** The bare-metal image on the system-mode CPU: RAM at 0x40000000, a UART, PSCI off; real time. */
function systemRun(image) {
  const { Cpu, PagedMemory, loadElf } = createRequire(import.meta.url)(join(root, 'libs/emulator'));
  const bus = new PagedMemory();
  bus.mapRam(0x4000_0000, 256 << 20);
  const entry = loadElf(readFileSync(image), bus).entry;
  let out = '';
  bus.addMmio(0x0900_0000, 0x1000, {
    read: () => 0,
    write: (o, _s, v) => (out += o === 0 ? String.fromCharCode(v) : ''),
  });
  const t0 = process.hrtime.bigint();
  const clock = { nowNs: () => Number(process.hrtime.bigint() - t0), at: () => () => undefined };
  const firmware = { call: (c) => ((c.halted = c.getX(0) === 0x84000008n), c.halted) };
  const cpu = Cpu.system(bus, { clock, timerIrq: () => undefined, firmware });
  cpu.pc = BigInt(entry);
  while (!cpu.halted) cpu.run(10_000_000);
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, insns: cpu.instructions, out };
}

const qemuSystem = spawnSync('qemu-system-aarch64', ['--version']).status === 0;
for (const mmu of [0, 1]) {
  const image = join(programs, `emulator-bench-system-mmu${mmu}.elf`);
  let emu = Infinity;
  let qemu = Infinity;
  let insns = 0;
  for (let k = 0; k < RUNS; k++) {
    const e = systemRun(image);
    insns = e.insns;
    emu = Math.min(emu, e.s);
    if (!qemuSystem) continue;
    const args = [
      '-M',
      'virt',
      '-cpu',
      'cortex-a57',
      '-m',
      '256',
      '-nographic',
      '-net',
      'none',
      '-kernel',
      image,
    ];
    const q = timed('qemu-system-aarch64', args);
    if (q.stdout !== e.out) throw new Error(`system mmu${mmu}: outputs differ (${q.stdout} vs ${e.out})`);
    qemu = Math.min(qemu, q.s);
  }
  rows.push({ workload: `sys-mmu${mmu ? 'on' : 'off'}`, insns, emu, qemu, system: true });
}

const pad = (s, n) => String(s).padStart(n);
console.log(
  `${'workload'.padEnd(11)} ${pad('Minsn', 8)} ${pad('emu s', 7)} ${pad('emu MIPS', 9)} ${pad('qemu s', 7)} ${pad('qemu MIPS', 10)} ${pad('ratio', 6)}`,
);
const geomean = (list) => {
  let ge = 0;
  let gq = 0;
  for (const r of list) {
    ge += Math.log(r.insns / r.emu / 1e6);
    gq += Math.log(r.insns / r.qemu / 1e6);
  }
  return [Math.exp(ge / list.length), Math.exp(gq / list.length)];
};
for (const r of rows) {
  const em = r.insns / r.emu / 1e6;
  const qm = r.insns / r.qemu / 1e6;
  const q = Number.isFinite(r.qemu);
  console.log(
    `${r.workload.padEnd(11)} ${pad((r.insns / 1e6).toFixed(1), 8)} ${pad(r.emu.toFixed(2), 7)} ${pad(em.toFixed(1), 9)} ${pad(q ? r.qemu.toFixed(2) : '-', 7)} ${pad(q ? qm.toFixed(0) : '-', 10)} ${pad(q ? (qm / em).toFixed(1) + 'x' : '-', 6)}`,
  );
}
const [emG, qG] = geomean(rows.filter((r) => !r.system));
console.log(
  `geomean: emulator ${emG.toFixed(1)} MIPS, qemu-aarch64 ${qG.toFixed(0)} MIPS, ratio ${(qG / emG).toFixed(1)}x`,
);
const sys = rows.filter((r) => r.system);
const [esG, qsG] = geomean(sys);
console.log(
  `system mode: emulator ${(sys[0].insns / sys[0].emu / 1e6).toFixed(1)} MIPS MMU off, ${(sys[1].insns / sys[1].emu / 1e6).toFixed(1)} MIPS MMU on` +
    (qemuSystem ? `; qemu-system-aarch64 ${qsG.toFixed(0)} MIPS, ratio ${(qsG / esG).toFixed(1)}x` : ''),
);
