#!/usr/bin/env node
// What triage costs, against a fresh controller process (private redis-server, SQLite): N scheduled
// matrices of one cell each, every run with a 4 KiB artifact, a farm webhook on 127.0.0.1. Prints,
// beside GET /api/health measured in the same run:
//  - settlement: from the last result posted to the matrix settled (p50, p90);
//  - webhook: from the last result posted to matrix.done received, signed (p50, p90);
//  - the known issues list with 10 issues (each computing "possibly fixed" over the history);
//  - the janitor on N matrices keeping the newest 10: dry run, then the real run;
//  - the KCIDB export of one matrix.
// Usage (after `npm run build`): node bench/triage-bench.mjs [N=100]
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const CONTROLLER = join(root, 'apps/controller/dist/src/main.js');
let host;
try {
  host = require(join(root, 'libs/host/dist/src/index.js'));
  require.resolve(CONTROLLER);
} catch {
  process.stderr.write('triage-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}
const N = Number(process.argv[2] ?? 100);
const TOKEN = `vmf_${randomBytes(32).toString('base64url')}`;
const SECRET = 'bench-secret-bench-secret';
const dir = mkdtempSync(join(tmpdir(), 'vmfarm-triage-bench-'));
const redis = await host.startRedis({ dataDir: join(dir, 'redis') });

// The webhook receiver: when each matrix.done arrived, its signature checked.
const arrived = new Map();
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const n = JSON.parse(body);
    if (sig === req.headers['x-vmfarm-signature'] && n.event === 'matrix.done')
      arrived.set(n.data.matrix.id, performance.now());
    res.writeHead(200).end();
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));

const controller = spawn(process.execPath, [CONTROLLER], {
  env: {
    ...process.env,
    REDIS_URL: redis.url,
    DATABASE_URL: '',
    PORT: String(await host.freePort()),
    VMFARM_DATA: join(dir, 'data'),
    VMFARM_ADMIN_TOKEN: TOKEN,
    VMFARM_JANITOR_INTERVAL_SECONDS: '0',
    VMFARM_VALIDATE_RESPONSES: '',
  },
  stdio: ['ignore', 'pipe', 'ignore'],
});
const url = await new Promise((resolve, reject) => {
  let out = '';
  controller.stdout.on('data', (d) => {
    out += d;
    const m = /listening on (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  controller.once('exit', (code) => reject(new Error(`controller exited (${code})`)));
});

async function call(method, path, body) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body:
      body === undefined
        ? undefined
        : typeof body === 'string' || body instanceof Buffer
          ? body
          : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
async function timed(f) {
  const t = performance.now();
  await f();
  return performance.now() - t;
}
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => `${x.toFixed(1)} ms`;

try {
  const health = [];
  for (let i = 0; i < 20; i++) health.push(await timed(() => call('GET', '/api/health')));
  const ref = pct(health, 50);
  const agentId = (
    await call('POST', '/api/agents', {
      name: 'bench',
      host: 'bench',
      version: '0',
      capabilities: { targetKinds: ['static'] },
    })
  ).id;
  await fetch(`${url}/api/images?name=bench&arch=aarch64&tags=bench`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(4096, 7),
  });
  const schedule = await call('POST', '/api/schedules', {
    name: 'bench',
    cron: '0 2 * * *',
    images: { tags: ['bench'] },
    targets: ['static'],
    suites: ['static'],
  });
  await call('PUT', `/api/policies/schedules/${schedule.id}`, { retries: 0, keepMatrices: 10 });
  await call('POST', '/api/hooks', {
    scope: { kind: 'farm' },
    events: ['matrix.done'],
    webhook: { url: `http://127.0.0.1:${receiver.address().port}/`, secret: SECRET },
  });
  const settle = [];
  const hook = [];
  const artifact = Buffer.alloc(4096, 65).toString('base64');
  let last;
  for (let i = 0; i < N; i++) {
    const m = await call('POST', `/api/schedules/${schedule.id}/run`);
    const runId = m.cells[0].runId;
    await call('POST', `/api/runs/${runId}/attempts/1/start`, { agentId });
    const posted = performance.now();
    await call('POST', `/api/runs/${runId}/attempts/1/result`, {
      agentId,
      durationMs: 1,
      verdicts: [
        {
          suite: 'static',
          clause: 'IMG-GPT',
          level: 'MUST',
          verdict: i % 3 ? 'PASS' : 'FAIL',
          message: 'm',
          evidence: {},
        },
      ],
      artifacts: [{ name: 'console.log', contentBase64: artifact, mediaType: 'text/plain' }],
    });
    for (;;) {
      const t = await call('GET', `/api/matrices/${m.id}/triage`);
      if (t.settlement?.state === 'settled') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    settle.push(performance.now() - posted);
    while (!arrived.has(m.id)) await new Promise((r) => setTimeout(r, 5));
    hook.push(arrived.get(m.id) - posted);
    last = m.id;
  }
  for (let i = 0; i < 10; i++)
    await call('POST', '/api/known-issues', {
      title: `issue ${i}`,
      owner: 'bench',
      reason: 'r',
      match: { clauses: ['IMG-GPT'], imageName: `bench*` },
    });
  const issues = await timed(() => call('GET', '/api/known-issues'));
  const dry = await timed(() => call('POST', '/api/janitor/run', { dryRun: true }));
  let report;
  const real = await timed(async () => (report = await call('POST', '/api/janitor/run', {})));
  const kcidb = await timed(() => call('GET', `/api/matrices/${last}/kcidb`));
  const line = (what, x) =>
    process.stdout.write(`${what.padEnd(52)} ${ms(x).padStart(10)}  (${(x / ref).toFixed(0)}× health)\n`);
  process.stdout.write(
    `triage-bench: ${N} matrices, ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}\n`,
  );
  process.stdout.write(`GET /api/health (p50)${' '.repeat(32)}${ms(ref).padStart(10)}\n`);
  line('result posted → matrix settled (p50)', pct(settle, 50));
  line('result posted → matrix settled (p90)', pct(settle, 90));
  line('result posted → signed matrix.done received (p50)', pct(hook, 50));
  line('result posted → signed matrix.done received (p90)', pct(hook, 90));
  line('GET /api/known-issues (10 issues, possibly fixed)', issues);
  line(`janitor dry run (${N} matrices)`, dry);
  line(`janitor run: ${report.deleted.artifacts} artifacts removed`, real);
  line('GET /api/matrices/:id/kcidb', kcidb);
} finally {
  controller.kill('SIGTERM');
  await new Promise((r) => controller.once('exit', r));
  await redis.stop();
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
