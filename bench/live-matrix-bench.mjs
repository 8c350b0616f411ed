#!/usr/bin/env node
// Live-matrix benchmark: the wall time of the full live matrix for one image, through the whole farm
// (`vmfarm serve`: private Redis, SQLite, controller, N local agents driving QEMU under TCG) and the
// reference guest of fixtures/guest. Prints one figure per line:
//  - the wall time of `vmfarm submit IMAGE --targets PROFILE --suites all --wait`, upload included;
//  - each suite's attempt duration as its agent measured it;
//  - the sum of those durations over the wall time: how many attempts ran side by side on average;
//  - the reference, measured in the same run: a matrix of the `boot` suite alone (one VM boot to
//    VMFARM-READY plus the farm's overhead), and the ratio of the two.
// The host's load average is printed before and after: the machine may be shared.
// Usage (after `npm run build`):
//   node bench/live-matrix-bench.mjs [--arch aarch64|aarch32] [--agents N] [--concurrency N]
// --concurrency sets each agent's VMFARM_AGENT_CONCURRENCY (default: the agent's, every core).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';

const root = fileURLToPath(new URL('..', import.meta.url));
const VMFARM = join(root, 'apps/cli/bin/vmfarm.js');

let values;
try {
  ({ values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'aarch64' },
      agents: { type: 'string', default: '1' },
      concurrency: { type: 'string' },
    },
  }));
} catch (err) {
  process.stderr.write(`live-matrix-bench: ${err.message}\n`);
  process.exit(2);
}
const PROFILE = { aarch64: 'qemu-aarch64-tcg', aarch32: 'qemu-aarch32-tcg' }[values.arch];
const AGENTS = Number(values.agents);
const CONCURRENCY = values.concurrency === undefined ? undefined : Number(values.concurrency);
if (
  !PROFILE ||
  !Number.isInteger(AGENTS) ||
  AGENTS < 1 ||
  (CONCURRENCY !== undefined && !(Number.isInteger(CONCURRENCY) && CONCURRENCY >= 1))
) {
  process.stderr.write(
    'live-matrix-bench: --arch is aarch64 or aarch32, --agents and --concurrency positive integers\n',
  );
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-live-bench-'));
let serve;
const cleanup = () => {
  if (serve && serve.exitCode === null) serve.kill('SIGTERM');
};
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Starts `vmfarm serve` and resolves with its URL once it says the farm is ready. */
function startServe() {
  serve = spawn(
    process.execPath,
    [VMFARM, 'serve', '--port', '0', '--data', join(dir, 'data'), '--agents', String(AGENTS)],
    {
      env: {
        ...process.env,
        REDIS_URL: '',
        DATABASE_URL: '',
        ...(CONCURRENCY === undefined ? {} : { VMFARM_AGENT_CONCURRENCY: String(CONCURRENCY) }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    serve.once('exit', (code) => reject(new Error(`vmfarm serve exited with ${code}`)));
    createInterface({ input: serve.stdout }).on('line', (line) => {
      const m = /^vmfarm farm ready at (\S+)$/.exec(line);
      if (m) resolve(m[1]);
    });
  });
}

/** The admin token `vmfarm serve` wrote for this farm. */
const token = () => readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();

function submit(url, image, suites) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        VMFARM,
        'submit',
        image,
        '--targets',
        PROFILE,
        '--suites',
        suites,
        '--wait',
        '--format',
        'json',
        '--controller',
        url,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VMFARM_DATA: join(dir, 'data') } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0 && code !== 1) return reject(new Error(`submit exited with ${code}: ${err.trim()}`));
      resolve({ seconds, report: JSON.parse(out) });
    });
  });
}

async function suiteSeconds(url, report) {
  const out = [];
  for (const cell of report.cells) {
    const run = await (
      await fetch(`${url}/api/runs/${cell.runId}`, { headers: { authorization: `Bearer ${token()}` } })
    ).json();
    const final = run.attempts.at(-1);
    out.push([cell.suite, (final?.durationMs ?? NaN) / 1000, cell.verdicts.map((v) => v.verdict).join('')]);
  }
  return out;
}

try {
  const image = execFileSync(
    'bash',
    [join(root, 'fixtures/guest/build.sh'), values.arch, join(dir, 'guest')],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
    .trim()
    .split('\n')
    .pop();
  const url = await startServe();
  const agents = await (
    await fetch(`${url}/api/agents`, { headers: { authorization: `Bearer ${token()}` } })
  ).json();
  console.log(
    `host: ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}; ${AGENTS} agent(s), ` +
      `concurrency ${agents.map((a) => a.capabilities.concurrency).join(', ')}; profile ${PROFILE}`,
  );
  const alone = await submit(url, image, 'boot');
  const full = await submit(url, image, 'all');
  console.log(`live matrix wall time, all ${full.report.cells.length} suites: ${full.seconds.toFixed(1)} s`);
  const suites = await suiteSeconds(url, full.report);
  for (const [suite, seconds, verdicts] of suites)
    console.log(`  suite ${suite.padEnd(12)} ${seconds.toFixed(1)} s (${verdicts})`);
  const busy = suites.reduce((sum, [, seconds]) => sum + seconds, 0);
  console.log(
    `attempts side by side: ${busy.toFixed(1)} s of attempts in ${full.seconds.toFixed(1)} s wall, ` +
      `${(busy / full.seconds).toFixed(2)} on average`,
  );
  console.log(`reference, boot suite alone: ${alone.seconds.toFixed(1)} s`);
  console.log(`ratio full matrix / boot alone: ${(full.seconds / alone.seconds).toFixed(1)}x`);
  console.log(`host load after: ${loadavg()[0].toFixed(2)}`);
} catch (err) {
  process.stderr.write(`live-matrix-bench: ${err.message}\n`);
  process.exitCode = 3;
} finally {
  cleanup();
}
