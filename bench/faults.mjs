#!/usr/bin/env node
// Fault figures: N cheap runs under each fault, every part a real process (a redis-server with its
// append-only file, the controller with SQLite, two agents). For each fault the bench submits N
// one-cell matrices (each with an Idempotency-Key, retried on 503 and lost connections as `vmfarm
// submit` does) while the fault is injected again and again, heals it, waits for the farm to settle
// and prints:
//   submitted        one-cell matrices asked for
//   recorded once    runs done with one verdict per clause and one final attempt
//   lost             submits that never got their matrix, and runs never done
//   doubled          extra matrices for one submit, runs with a clause judged twice or two final attempts
//   leftover procs   processes of the farm's directory still alive after it stopped (QEMU, redis, node)
//   leftover files   files left in the agents' instance directories and the controller's upload area
// Faults (--faults, comma-separated; default all):
//   agent-kill      SIGKILL an agent every 6 s, start it again 1 s later
//   controller-kill SIGKILL the controller every 8 s, start it again on the same port 1 s later
//   redis-kill      SIGKILL redis-server every 8 s, start it again on the same port and AOF 1 s later
//   hung-vm         SIGSTOP a running QEMU every 30 s (boot suite, reference guest, qemu-aarch64-tcg)
//   disk-full       the data dir on a 160 MiB tmpfs; every 10 s a file fills it for 4 s (needs root)
//   link-cut        SIGSTOP an agent for 20 s (longer than its job lock) every 25 s, then SIGCONT
// Usage (after `npm run build`): node bench/faults.mjs [--runs N] [--vm-runs N] [--faults LIST] [--keep]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
let helpers, host;
try {
  helpers = require(join(root, 'apps/cli/dist/test/serve-helpers.js'));
  host = require(join(root, 'libs/host/dist/src/index.js'));
} catch {
  process.stderr.write('faults: not built yet; run `npm run build` first\n');
  process.exit(2);
}

const FAULTS = ['agent-kill', 'controller-kill', 'redis-kill', 'hung-vm', 'disk-full', 'link-cut'];
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    'vm-runs': { type: 'string' },
    faults: { type: 'string', default: FAULTS.join(',') },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const VM_RUNS = Number(values['vm-runs'] ?? values.runs);
const chosen = values.faults.split(',').filter(Boolean);
for (const f of chosen)
  if (!FAULTS.includes(f)) {
    process.stderr.write(`faults: unknown fault ${f} (known: ${FAULTS.join(', ')})\n`);
    process.exit(2);
  }

const TOKEN = `vmf_${randomBytes(32).toString('base64url')}`;
/** Every static run holds its job this long, so that faults find runs in flight. */
const RUN_DELAY_MS = 1000;
/** The fault is injected while runs are in flight, for at most this long. */
const FAULT_MS = 600_000;
/** After the fault is healed, how long the farm gets to finish every run (reconciliation runs every 60 s). */
const SETTLE_MS = 240_000;
/** A submit retried this long without an answer counts as lost. */
const SUBMIT_DEADLINE_MS = 240_000;
const CONTROLLER = join(root, 'apps/controller/dist/src/main.js');
const AGENT = join(root, 'apps/agent/dist/src/main.js');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line) => process.stderr.write(`faults: ${line}\n`);

/** One farm: redis-server, controller and two agents, each a process that can be killed and started again. */
class Farm {
  constructor(dir, dataDir) {
    this.dir = dir;
    this.data = dataDir;
    this.logs = join(dir, 'logs');
    mkdirSync(this.logs, { recursive: true });
    this.agents = [];
  }

  async start({ agentEnv = {} } = {}) {
    this.agentEnv = agentEnv;
    this.redis = await host.startRedis({ dataDir: join(this.dir, 'redis'), persistence: 'aof' });
    this.port = await host.freePort();
    await this.startController();
    const made = await this.api('POST', '/api/tokens', { name: 'fault agents', role: 'agent' });
    this.agentToken = made.token;
    for (let i = 0; i < 2; i++) this.agents.push(await this.startAgent(i));
  }

  /** A process whose output goes to logs/NAME.log; resolves once `ready` matches a stdout line. */
  async spawn(name, args, env, ready) {
    const log = openSync(join(this.logs, `${name}.log`), 'a');
    const child = host.spawnGuarded(process.execPath, args, { env, stdio: ['ignore', 'pipe', log] });
    closeSync(log);
    const exited = host.exited(child);
    const match = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready in 120 s`)), 120_000);
      void exited.then((s) => reject(new Error(`${name} exited (${JSON.stringify(s)}) before it was ready`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = ready.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
    return { name, child, pid: child.pid, exited, match };
  }

  async startController() {
    const env = {
      ...process.env,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      VMFARM_DATA: this.data,
      REDIS_URL: this.redis.url,
      DATABASE_URL: '',
      VMFARM_ADMIN_TOKEN: TOKEN,
      VMFARM_JANITOR_INTERVAL_SECONDS: '0',
    };
    this.controller = await this.spawn('controller', [CONTROLLER], env, /listening on (http\S+)/);
    this.url = this.controller.match[1];
  }

  async startAgent(i) {
    return this.spawn(
      `agent-${i}`,
      [AGENT, '--controller', this.url, '--name', `fault-${i}`, '--work', join(this.dir, `work-${i}`)].concat(
        ['--cache', join(this.dir, `cache-${i}`), '--grace', '5', '--concurrency', '1'],
      ),
      { ...process.env, VMFARM_TOKEN: this.agentToken, ...this.agentEnv },
      /vmfarm agent (\S+) ready/,
    );
  }

  async kill(part, signal = 'SIGKILL') {
    process.kill(part.pid, signal);
    if (signal === 'SIGKILL') await part.exited;
  }

  async api(method, path, body, headers = {}) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok)
      throw Object.assign(new Error(`${method} ${path}: ${res.status} ${await res.text()}`), {
        status: res.status,
      });
    return res.status === 204 ? null : res.json();
  }

  /** The same calls, retried while the controller is away (it is one of the things killed). */
  async call(method, path, body) {
    for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
      try {
        return await this.api(method, path, body);
      } catch (err) {
        if (err.status !== undefined && err.status < 500) throw err;
        await sleep(wait);
      }
    }
  }

  async upload(image, name) {
    const out = execFileSync('curl', [
      ...['-sS', '--fail-with-body', '-T', image, '-H', `authorization: Bearer ${TOKEN}`],
      `${this.url}/api/images?name=${name}&arch=aarch64`,
    ]);
    return JSON.parse(out.toString()).sha256;
  }

  async stop() {
    for (const a of this.agents)
      if (a.child.exitCode === null && a.child.signalCode === null) process.kill(a.pid, 'SIGCONT');
    await Promise.all(this.agents.map((a) => stopChild(a, 15_000)));
    await stopChild(this.controller, 10_000);
    await this.redis.stop();
  }
}

async function stopChild(part, graceMs) {
  if (part.child.exitCode !== null || part.child.signalCode !== null) return;
  part.child.kill('SIGTERM');
  const timer = setTimeout(() => part.child.kill('SIGKILL'), graceMs);
  await part.exited;
  clearTimeout(timer);
}

/** Processes whose command line or working directory is under `dir`. */
function processesUnder(dir) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // gone, or not ours
      }
      if ((cmd.includes(dir) || cwd.startsWith(dir)) && host.isAlive(Number(entry)))
        found.push({ pid: Number(entry), cmd: cmd.slice(0, 120) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path), path);
    else out.push(path);
  }
  return out;
}

/** Injectors: each returns { stop(): Promise<void> (heals the fault), count() }. */
function every(ms, inject) {
  let stopped = false;
  let n = 0;
  const loop = (async () => {
    while (!stopped) {
      await sleep(ms);
      if (stopped) break;
      try {
        n += (await inject()) === false ? 0 : 1;
      } catch (err) {
        say(`injecting: ${err.message}`);
      }
    }
  })();
  return {
    count: () => n,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** How often each fault strikes (ms). */
const PERIOD = {
  'agent-kill': 6000,
  'controller-kill': 8000,
  'redis-kill': 8000,
  'hung-vm': 30_000,
  'disk-full': 10_000,
  'link-cut': 25_000,
};

const INJECT = {
  'agent-kill': (farm) => {
    let i = 0;
    return every(PERIOD['agent-kill'], async () => {
      const k = i++ % farm.agents.length;
      await farm.kill(farm.agents[k]);
      await sleep(1000);
      farm.agents[k] = await farm.startAgent(k);
    });
  },
  'controller-kill': (farm) =>
    every(PERIOD['controller-kill'], async () => {
      await farm.kill(farm.controller);
      await sleep(1000);
      await farm.startController();
    }),
  'redis-kill': (farm) =>
    every(PERIOD['redis-kill'], async () => {
      process.kill(farm.redis.pid, 'SIGKILL');
      await farm.redis.exited;
      await sleep(1000);
      farm.redis = await host.startRedis({
        dataDir: join(farm.dir, 'redis'),
        persistence: 'aof',
        port: farm.redis.port,
      });
    }),
  'hung-vm': (farm) => {
    const stopped = new Set();
    const injector = every(PERIOD['hung-vm'], () => {
      const vm = processesUnder(farm.dir).find((p) => p.cmd.includes('qemu-system') && !stopped.has(p.pid));
      if (!vm) return false;
      process.kill(vm.pid, 'SIGSTOP');
      stopped.add(vm.pid);
    });
    return injector;
  },
  'disk-full': (farm) => {
    const filler = join(farm.data, 'filler');
    const injector = every(PERIOD['disk-full'], async () => {
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(1 << 20, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if (err.code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
      await sleep(4000);
      rmSync(filler, { force: true });
    });
    return {
      count: injector.count,
      stop: async () => {
        await injector.stop();
        rmSync(filler, { force: true });
      },
    };
  },
  'link-cut': (farm) => {
    let cut;
    const injector = every(PERIOD['link-cut'], async () => {
      cut = farm.agents[0];
      process.kill(cut.pid, 'SIGSTOP');
      await sleep(20_000);
      process.kill(cut.pid, 'SIGCONT');
      cut = undefined;
    });
    return {
      count: injector.count,
      stop: async () => {
        if (cut) process.kill(cut.pid, 'SIGCONT');
        await injector.stop();
      },
    };
  },
};

/** POST /api/matrices as `vmfarm submit` does: one key per submit, retried on 5xx and lost connections. */
async function submit(farm, body, key) {
  const deadline = Date.now() + SUBMIT_DEADLINE_MS;
  for (let wait = 250; Date.now() < deadline; wait = Math.min(wait * 2, 4000)) {
    try {
      const made = await farm.api('POST', '/api/matrices', body, { 'idempotency-key': key });
      return made.id;
    } catch (err) {
      if (err.status !== undefined && err.status < 500) throw err;
      await sleep(wait);
    }
  }
  return null;
}

async function measure(fault, dir, image, runs) {
  const vm = fault === 'hung-vm';
  let data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  let mounted = false;
  if (fault === 'disk-full') {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m,mode=0700', 'vmfarm-faults', data]);
    mounted = true;
  }
  const farm = new Farm(dir, data);
  const started = Date.now();
  try {
    await farm.start({ agentEnv: vm ? {} : { VMFARM_AGENT_FAULT_DELAY_MS: String(RUN_DELAY_MS) } });
    const sha = await farm.upload(image, vm ? 'guest' : 'disk');
    let target = 'static';
    let suite = 'static';
    if (vm) {
      // Short stage limits: a stopped VM is caught in seconds, not minutes.
      await farm.api('POST', '/api/targets', {
        id: 'fault-tcg',
        extends: 'qemu-aarch64-tcg',
        stageLimits: { boot: 30, ready: 60 },
      });
      target = 'fault-tcg';
      suite = 'boot';
    }
    const body = { images: [sha], targets: [target], suites: [suite] };
    const injector = INJECT[fault](farm);
    const ids = new Array(runs).fill(null);
    let next = 0;
    const stem = randomBytes(4).toString('hex');
    // Submits spread over at least four fault periods (4 submitters), so that every fault finds runs
    // being submitted, queued and running.
    const pace = 4 * Math.max(vm ? 2000 : 100, (4 * PERIOD[fault]) / runs);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < runs) {
          const i = next++;
          ids[i] = await submit(farm, body, `${fault}-${stem}-${i}`);
          await sleep(pace);
        }
      }),
    );
    // The fault goes on while runs are in flight, then it is healed and the farm settles.
    const made = ids.filter(Boolean);
    const pending = async () => {
      let left = 0;
      for (const id of made) {
        const m = await farm.call('GET', `/api/matrices/${id}`);
        if (m.state !== 'done') left++;
      }
      return left;
    };
    const faultUntil = Date.now() + FAULT_MS;
    while ((await pending()) > 0 && Date.now() < faultUntil) await sleep(2000);
    await injector.stop();
    for (const a of farm.agents) process.kill(a.pid, 'SIGCONT');
    const settleBy = Date.now() + SETTLE_MS;
    while ((await pending()) > 0 && Date.now() < settleBy) await sleep(2000);

    // The record.
    let once = 0;
    let doubled = 0;
    let lostRuns = 0;
    const verdicts = { PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0 };
    for (const id of made) {
      const m = await farm.call('GET', `/api/matrices/${id}`);
      for (const cell of m.cells) {
        const run = await farm.call('GET', `/api/runs/${cell.runId}`);
        const clauses = run.verdicts.map((v) => v.clause);
        const finals = run.attempts.filter(
          (a) => a.outcome && !['ERROR', 'lost', 'cancelled'].includes(a.outcome),
        );
        const twice = new Set(clauses).size !== clauses.length || finals.length > 1;
        if (twice) doubled++;
        if (run.state !== 'done') lostRuns++;
        else if (!twice) {
          once++;
          verdicts[run.verdict]++;
        }
      }
    }
    const listed = [];
    for (let offset = 0; ; offset += 500) {
      const page = await farm.call('GET', `/api/matrices?limit=500&offset=${offset}`);
      listed.push(...page);
      if (page.length < 500) break;
    }
    // A submit that made two matrices shows the second one here, unknown to the submitter.
    doubled += listed.filter((m) => !made.includes(m.id)).length;
    const files = [
      ...farm.agents.flatMap((_, i) => filesUnder(join(dir, `work-${i}`))),
      ...filesUnder(join(data, 'tmp')),
    ];
    const faults = injector.count();
    await farm.stop();
    const procs = processesUnder(dir);
    for (const p of procs) {
      say(`${fault}: left running: ${p.pid} ${p.cmd}`);
      process.kill(p.pid, 'SIGKILL');
    }
    for (const f of files) say(`${fault}: left behind: ${f}`);
    return {
      fault,
      submitted: runs,
      once,
      lost: runs - made.length + lostRuns,
      doubled,
      procs: procs.length,
      files: files.length,
      faults,
      verdicts,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const p of processesUnder(dir)) process.kill(p.pid, 'SIGKILL');
    if (mounted) spawnSync('umount', ['-l', data]);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-faults-'));
const rows = [];
try {
  const image = helpers.buildImage(dir);
  const guest = join(
    process.env.VMFARM_CACHE || join(process.env.HOME, '.cache/vmfarm'),
    'guest-out/vmfarm-guest-aarch64.img',
  );
  for (const fault of chosen) {
    const runs = fault === 'hung-vm' ? VM_RUNS : RUNS;
    if (fault === 'hung-vm' && !existsSync(guest)) {
      say(`hung-vm: no reference guest at ${guest} (fixtures/guest/build.sh makes it); skipped`);
      continue;
    }
    if (fault === 'disk-full' && process.getuid?.() !== 0) {
      say('disk-full: needs root to mount a tmpfs; skipped');
      continue;
    }
    say(`${fault}: ${runs} runs`);
    const fdir = join(dir, fault);
    mkdirSync(fdir);
    rows.push(await measure(fault, fdir, fault === 'hung-vm' ? guest : image, runs));
    const r = rows.at(-1);
    say(
      `${fault}: done in ${r.seconds.toFixed(0)} s: submitted ${r.submitted}, recorded once ${r.once}, lost ${r.lost}, ` +
        `doubled ${r.doubled}, leftover processes ${r.procs}, files ${r.files}, faults ${r.faults} (${JSON.stringify(r.verdicts)})`,
    );
  }
} finally {
  if (values.keep) say(`kept ${dir} (logs/ of each fault: the controller's and agents' output)`);
  else rmSync(dir, { recursive: true, force: true });
}

const head = [
  'fault',
  'submitted',
  'recorded once',
  'lost',
  'doubled',
  'leftover procs',
  'leftover files',
  'faults injected',
  'PASS/FAIL/ERROR/SKIP',
  'wall s',
];
const table = [
  head,
  ...rows.map((r) =>
    [
      r.fault,
      r.submitted,
      r.once,
      r.lost,
      r.doubled,
      r.procs,
      r.files,
      r.faults,
      `${r.verdicts.PASS}/${r.verdicts.FAIL}/${r.verdicts.ERROR}/${r.verdicts.SKIP}`,
      r.seconds.toFixed(0),
    ].map(String),
  ),
];
const widths = head.map((_, c) => Math.max(...table.map((row) => row[c].length)));
process.stdout.write(
  `node bench/faults.mjs --runs ${RUNS} --vm-runs ${VM_RUNS} (${cpus().length} cores, load ${loadavg()[0].toFixed(1)})\n`,
);
for (const row of table) process.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c])).join('  ')}\n`);
const bad = rows.some((r) => r.lost || r.doubled || r.procs || r.files);
process.exit(bad ? 1 : 0);
