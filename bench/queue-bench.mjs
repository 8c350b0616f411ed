#!/usr/bin/env node
// Queue benchmark: N runs of the static suite on a small image, against a fresh `vmfarm serve` (private
// redis-server, SQLite) with one agent, then with two. Prints one figure per line:
//  - idle enqueue-to-start latency p50/p99: runs submitted one at a time (each matrix waited for), so the
//    farm is idle when each run is created; latency = the controller's attempt start - run creation;
//  - burst throughput: N runs submitted at once, runs/s from the first creation to the last finish.
// Usage (after `npm run build`): node bench/queue-bench.mjs [--runs N]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
let helpers, host;
try {
  helpers = require(join(root, 'apps/cli/dist/test/serve-helpers.js'));
  host = require(join(root, 'libs/host/dist/src/index.js'));
} catch {
  process.stderr.write('queue-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' } } });
const RUNS = Number(values.runs);
const WARMUP = 10;
// The farm's admin token, preset: the bench and `vmfarm submit` use it.
const TOKEN = `vmf_${randomBytes(32).toString('base64url')}`;
const env = {
  ...process.env,
  REDIS_URL: '',
  DATABASE_URL: '',
  VMFARM_ADMIN_TOKEN: TOKEN,
  VMFARM_TOKEN: TOKEN,
};

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function api(url, path, body) {
  const res = await fetch(`${url}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function waitDone(url, ids) {
  const runIds = [];
  for (const id of ids) {
    for (;;) {
      const view = await api(url, `/api/matrices/${id}`);
      if (view.state === 'done') {
        runIds.push(...view.cells.map((c) => c.runId));
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  return runIds;
}

async function runViews(url, runIds) {
  const views = [];
  for (const id of runIds) views.push(await api(url, `/api/runs/${id}`));
  return views;
}

/** Submits `count` copies of a one-cell matrix, 8 requests in flight; resolves with their ids. */
async function submitAll(url, matrix, count) {
  const ids = [];
  let left = count;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) ids.push((await api(url, '/api/matrices', matrix)).id);
    }),
  );
  return ids;
}

const latencyMs = (run) => Date.parse(run.attempts[0].startedAt) - Date.parse(run.createdAt);

async function bench(dir, image, agents) {
  const serve = await helpers.startServe(
    [
      '--port',
      String(await host.freePort()),
      '--data',
      join(dir, `farm-${agents}`),
      '--agents',
      String(agents),
    ],
    env,
  );
  const pids = serve.children();
  try {
    const upload = await helpers.vmfarm(
      ['submit', image, '--targets', 'static', '--suites', 'static', '--wait', '--format', 'json'],
      { ...env, VMFARM_CONTROLLER: serve.url },
    );
    if (upload.code !== 0 && upload.code !== 1)
      throw new Error(`submit failed (${upload.code}): ${upload.stderr}`);
    const sha256 = JSON.parse(upload.stdout).cells[0].image.sha256;
    const matrix = { images: [sha256], targets: ['static'], suites: ['static'] };

    // Warm-up (JIT, connections, each agent's image cache): bursts until every agent has run one.
    const warmed = new Set();
    while (warmed.size < agents) {
      const runs = await runViews(
        serve.url,
        await waitDone(serve.url, await submitAll(serve.url, matrix, WARMUP)),
      );
      for (const run of runs) warmed.add(run.attempts[0].agentId);
    }
    // One run at a time: the farm is idle when each is created.
    const idleRuns = [];
    for (let i = 0; i < RUNS; i++)
      idleRuns.push(...(await waitDone(serve.url, [(await api(serve.url, '/api/matrices', matrix)).id])));
    const idle = (await runViews(serve.url, idleRuns)).map(latencyMs).sort((a, b) => a - b);

    // Burst: every matrix submitted at once, then wait for all of them.
    const ids = await submitAll(serve.url, matrix, RUNS);
    const burst = await runViews(serve.url, await waitDone(serve.url, ids));
    const first = Math.min(...burst.map((r) => Date.parse(r.createdAt)));
    const last = Math.max(...burst.map((r) => Date.parse(r.finishedAt)));
    const perSecond = (burst.length * 1000) / (last - first);

    process.stdout.write(
      [
        `agents=${agents} idle enqueue-to-start p50: ${percentile(idle, 50).toFixed(1)} ms`,
        `agents=${agents} idle enqueue-to-start p99: ${percentile(idle, 99).toFixed(1)} ms`,
        `agents=${agents} burst throughput: ${perSecond.toFixed(1)} runs/s`,
        '',
      ].join('\n'),
    );
    return perSecond;
  } finally {
    const code = await serve.stop();
    const left = pids.filter((p) => host.isAlive(p.pid));
    if (code !== 0 || left.length)
      process.stderr.write(`queue-bench: serve exited ${code}; left running: ${JSON.stringify(left)}\n`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-queue-bench-'));
try {
  const image = helpers.buildImage(dir);
  process.stdout.write(
    `queue-bench: ${RUNS} runs of the static suite per measurement, 40 MiB raw image, ${cpus().length} cores\n` +
      `host load average (1 min) at start: ${loadavg()[0].toFixed(2)}\n`,
  );
  const one = await bench(dir, image, 1);
  const two = await bench(dir, image, 2);
  process.stdout.write(`two agents / one agent throughput: ${(two / one).toFixed(2)}x\n`);
} catch (err) {
  process.stderr.write(`queue-bench: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
