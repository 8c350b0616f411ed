#!/usr/bin/env node
// What the bounds on input cost the controller, against a fresh controller process (private
// redis-server, SQLite, default limits). Prints one figure per line, each beside GET /api/health
// measured in the same run:
//  - a ~47 MB JSON body without a token, and with one (over VMFARM_MAX_JSON_BYTES): status, time, and
//    how much the controller's peak memory (VmHWM) grew;
//  - a matrix over VMFARM_MAX_MATRIX_CELLS (refused), one at the limit (2000 cells: 20 images × 100
//    targets): submit, GET, the list page, and cancelling it with every cell queued.
// Usage (after `npm run build`): node bench/api-bounds-bench.mjs
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  process.stderr.write('api-bounds-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}

const TOKEN = `vmf_${randomBytes(32).toString('base64url')}`;
const dir = mkdtempSync(join(tmpdir(), 'vmfarm-api-bench-'));
const redis = await host.startRedis({ dataDir: join(dir, 'redis') });
const port = await host.freePort();
const controller = spawn(process.execPath, [CONTROLLER], {
  env: {
    ...process.env,
    REDIS_URL: redis.url,
    DATABASE_URL: '',
    PORT: String(port),
    VMFARM_DATA: join(dir, 'data'),
    VMFARM_ADMIN_TOKEN: TOKEN,
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

const peakKiB = () =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${controller.pid}/status`, 'utf8'))[1]);
const auth = { authorization: `Bearer ${TOKEN}` };
async function timed(method, path, { body, headers = {} } = {}) {
  const t = performance.now();
  const res = await fetch(url + path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, ms: performance.now() - t, bytes: Buffer.byteLength(text), text };
}
const json = (method, path, value) =>
  timed(method, path, {
    headers: { ...auth, 'content-type': 'application/json' },
    body: value === undefined ? undefined : JSON.stringify(value),
  });

try {
  for (let i = 0; i < 20; i++) await timed('GET', '/api/health');
  let health = Infinity;
  for (let i = 0; i < 50; i++) health = Math.min(health, (await timed('GET', '/api/health')).ms);
  const ref = (ms) =>
    `${ms.toFixed(1)} ms (${(ms / health).toFixed(0)}× GET /api/health, ${health.toFixed(2)} ms)`;

  const big = JSON.stringify({
    images: Array(700_000).fill('a'.repeat(64)),
    targets: ['static'],
    suites: ['all'],
  });
  for (const [who, headers] of [
    ['no token', {}],
    ['a token', auth],
  ]) {
    const before = peakKiB();
    const r = await timed('POST', '/api/matrices', {
      body: big,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    console.log(
      `${(big.length / 2 ** 20).toFixed(0)} MiB JSON body, ${who}: ${r.status} in ${ref(r.ms)}; controller peak memory +${((peakKiB() - before) / 1024).toFixed(1)} MiB`,
    );
  }

  for (let i = 0; i < 100; i++) await json('POST', '/api/targets', { id: `t${i}`, extends: 'static' });
  const shas = [];
  for (let i = 0; i < 21; i++) {
    const r = await timed('PUT', `/api/images?name=i${i}&arch=aarch64`, {
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(1024, i + 1),
    });
    shas.push(JSON.parse(r.text).sha256);
  }
  const targets = Array.from({ length: 100 }, (_, i) => `t${i}`);
  const over = await json('POST', '/api/matrices', { images: shas, targets, suites: ['static'] });
  console.log(`matrix of 2100 cells: ${over.status} in ${ref(over.ms)}`);
  const made = await json('POST', '/api/matrices', {
    images: shas.slice(0, 20),
    targets,
    suites: ['static'],
  });
  const id = JSON.parse(made.text).id;
  console.log(`matrix of 2000 cells: ${made.status} in ${ref(made.ms)}, answer ${made.bytes} bytes`);
  const view = await json('GET', `/api/matrices/${id}`);
  console.log(`GET it: ${view.status} in ${ref(view.ms)}, ${view.bytes} bytes`);
  const list = await json('GET', '/api/matrices');
  console.log(
    `GET /api/matrices (a summary per matrix): ${list.status} in ${ref(list.ms)}, ${list.bytes} bytes`,
  );
  const cancel = await json('POST', `/api/matrices/${id}/cancel`, {});
  console.log(`cancel it, 2000 cells queued: ${cancel.status} in ${ref(cancel.ms)}`);
  console.log(`(${cpus().length} cores, load average ${loadavg()[0].toFixed(1)})`);
} finally {
  controller.kill('SIGTERM');
  await new Promise((r) => controller.once('exit', r));
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
