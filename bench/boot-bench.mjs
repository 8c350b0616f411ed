#!/usr/bin/env node
// Boot benchmark: N boots of the reference guest (fixtures/guest) per bundled QEMU profile the host
// accepts, one VM at a time, through the libs/targets driver. Prints one figure per line:
//  - boot-to-ready median and min: seconds from QEMU start to `VMFARM-READY` on the console;
//  - first firmware line median: seconds from QEMU start to the firmware's first console line, the
//    reference for where firmware starts;
//  - guest uptime at report median: the guest's own share (kernel start to its report, `uptime_s`),
//    so boot-to-ready minus this is firmware and GRUB;
//  - for a profile this host refuses, the reason instead of a figure.
// qemu-aarch64-tcg is measured as bundled (GICv3, FDT) and with the overrides acpi=on and gic=2.
// QEMU start is the kernel's start time of the QEMU process, so the driver's preparation (VARS copy,
// overlay, QMP connection) is not counted.
// Usage (after `npm run build`): node bench/boot-bench.mjs [--runs N]
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
let targets;
try {
  targets = require(join(root, 'libs/targets/dist/src/index.js'));
} catch {
  process.stderr.write('boot-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } }));
} catch (err) {
  process.stderr.write(`boot-bench: ${err.message}\n`);
  process.exit(2);
}
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  process.stderr.write(`boot-bench: --runs must be a positive integer, not '${values.runs}'\n`);
  process.exit(2);
}
const FIRMWARE_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 300_000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** Seconds since the host booted (CLOCK_BOOTTIME, the clock of a process's start time in /proc). */
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
/** When `pid` started, on the clock of `uptime` (field 22 of /proc/PID/stat, in clock ticks). */
function startedAt(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / CLK_TCK;
}

const median = (sorted) => {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// Ctrl-C: close the VM that runs and clean up as on any other exit; a second one exits at once.
let interrupted = false;
let current = null;
const onSignal = () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write('boot-bench: interrupted, cleaning up\n');
  current?.close();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
const checkInterrupted = () => {
  if (interrupted) throw new Error('interrupted');
};

/** Builds (or takes from the cache) the reference guest for `arch` into `dir`; resolves with its path. */
function buildGuest(arch, dir) {
  return new Promise((resolve, reject) =>
    execFile(
      'bash',
      [join(root, 'fixtures/guest/build.sh'), arch, dir],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout.trim().split('\n').pop());
        const last = String(stderr).trim().split('\n').pop() || err.message;
        reject(new Error(`building the ${arch} guest failed: ${last}`));
      },
    ),
  );
}

/** One boot: seconds from QEMU start to the first firmware line and to VMFARM-READY, and the guest's uptime. */
async function bootOnce(profile, overrides, image, probe, dir) {
  const instanceDir = mkdtempSync(join(dir, 'instance-'));
  let session;
  try {
    session = current = await targets.boot(profile, { image, instanceDir, overrides, probe });
    checkInterrupted();
    const start = startedAt(session.pid);
    await session.console.expect(/\S[^\n]*\n/, FIRMWARE_TIMEOUT_MS);
    const firmware = uptime() - start;
    const report = await session.console.expect(/^uptime_s=(\S+)\n/m, READY_TIMEOUT_MS);
    await session.console.expect(/^VMFARM-READY\n/m, READY_TIMEOUT_MS);
    return { firmware, ready: uptime() - start, guest: Number(report.groups[0]) };
  } finally {
    current = null;
    await session?.close();
    rmSync(instanceDir, { recursive: true, force: true });
  }
}

async function bench(dir) {
  const { profiles, issues } = targets.resolveProfiles(
    targets.loadProfileInputs(targets.BUNDLED_PROFILES_DIR),
  );
  for (const issue of issues) process.stderr.write(`boot-bench: ${issue.path}: ${issue.message}\n`);
  const variants = [];
  for (const profile of [...profiles.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    variants.push({ label: profile.id, profile, overrides: {} });
    if (profile.id === 'qemu-aarch64-tcg')
      for (const overrides of [{ acpi: 'on' }, { gic: 2 }])
        variants.push({
          label: `${profile.id} ${Object.entries(overrides).map(([k, v]) => `${k}=${v}`)}`,
          profile,
          overrides,
        });
  }
  const files = [...profiles.values()].flatMap((p) => [p.firmwareCode, p.firmwareVars]);
  const probe = await targets.probeHost({ files: [...new Set(files)] });
  const qemu = probe.binaries['qemu-system-aarch64'] ?? probe.binaries['qemu-system-arm'];
  process.stdout.write(
    `boot-bench: ${RUNS} boot(s) per profile, one VM at a time, QEMU ${qemu?.version ?? 'absent'}, ` +
      `${cpus().length} cores\nhost load average (1 min) at start: ${loadavg()[0].toFixed(2)}\n`,
  );

  const guests = new Map();
  for (const { label, profile, overrides } of variants) {
    const effective = targets.applyOverrides(profile, overrides);
    const verdict = targets.accepts(effective, probe);
    if (!verdict.ok) {
      process.stdout.write(`${label}: refused: ${verdict.reason}\n`);
      continue;
    }
    try {
      const arch = effective.arch[0];
      if (!guests.has(arch)) guests.set(arch, await buildGuest(arch, dir));
      checkInterrupted();
      const times = [];
      for (let i = 0; i < RUNS; i++)
        times.push(await bootOnce(profile, overrides, guests.get(arch), probe, dir));
      const sorted = (key) => times.map((t) => t[key]).sort((a, b) => a - b);
      const ready = sorted('ready');
      process.stdout.write(
        [
          `${label} boot-to-ready median: ${median(ready).toFixed(2)} s`,
          `${label} boot-to-ready min: ${ready[0].toFixed(2)} s`,
          `${label} first firmware line median: ${median(sorted('firmware')).toFixed(2)} s`,
          `${label} guest uptime at report median: ${median(sorted('guest')).toFixed(2)} s`,
          '',
        ].join('\n'),
      );
    } catch (err) {
      checkInterrupted();
      process.stdout.write(`${label}: failed: ${err.message.split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  }
  process.stdout.write(`host load average (1 min) at end: ${loadavg()[0].toFixed(2)}\n`);
}

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-boot-bench-'));
try {
  await bench(dir);
} catch (err) {
  if (!interrupted) process.stderr.write(`boot-bench: ${err.message}\n`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
