/**
 * vmfarm's parser fuzzer (apps/fuzz/README.md).
 *
 *   node apps/fuzz/dist/src/main.js [--targets a,b] [--inputs N] [--seconds S]
 *       CI mode: N inputs (default 2000) or S seconds (default 5) per target, in this process.
 *   node apps/fuzz/dist/src/main.js --long --inputs 1000000 [--jobs J] [--out DIR] [--fresh]
 *       Long mode: each target in a worker thread with a watchdog, checkpointed to DIR so that a
 *       stopped run resumes where it was.
 *
 * Exit status 1 when any crash (an exception other than the parser's own typed refusal) or hang
 * (an input over 1 s) was found; the inputs are kept under DIR/<target>/.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { freshCounts, fuzz, HANG_MS, type Counts, type Finding } from './engine';
import { cacheRoot } from './fixtures';
import { saveFinding } from './findings';
import { inputFor } from './mutate';
import { TARGETS, targetNamed } from './targets';
import type { WorkerInput, WorkerMessage } from './worker';

/** A worker whose input has not changed for this long is stuck: ended, and the input is a hang. */
const WATCHDOG_MS = 20_000;

interface Options {
  long: boolean;
  inputs: number;
  seconds: number;
  jobs: number;
  outDir: string;
  fresh: boolean;
  targets: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    long: false,
    inputs: 0,
    seconds: 5,
    jobs: 1,
    outDir: join(cacheRoot(), 'fuzz'),
    fresh: false,
    targets: TARGETS.map((t) => t.name),
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const value = () => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--long') o.long = true;
    else if (a === '--fresh') o.fresh = true;
    else if (a === '--inputs') o.inputs = Number(value());
    else if (a === '--seconds') o.seconds = Number(value());
    else if (a === '--jobs') o.jobs = Number(value());
    else if (a === '--out') o.outDir = value();
    else if (a === '--targets') o.targets = value().split(',');
    else throw new Error(`unknown argument ${a} (see apps/fuzz/README.md)`);
  }
  o.targets.forEach(targetNamed);
  if (!o.inputs) o.inputs = o.long ? 1_000_000 : 2000;
  if (!(o.inputs > 0 && o.jobs >= 1 && o.seconds > 0))
    throw new Error('--inputs, --jobs and --seconds must be positive');
  return o;
}

interface Row {
  target: string;
  counts: Counts;
  seconds: number;
  findings: Finding[];
}

function printTable(rows: Row[]): void {
  const head = [
    'target',
    'inputs',
    'refused',
    'crashes',
    `hangs>${HANG_MS / 1000}s`,
    'slowest ms',
    'inputs/s',
  ];
  const lines = rows.map((r) => [
    r.target,
    String(r.counts.inputs),
    String(r.counts.refusals),
    String(r.counts.crashes),
    String(r.counts.hangs),
    r.counts.slowestMs.toFixed(1),
    r.seconds > 0 ? (r.counts.inputs / r.seconds).toFixed(0) : '-',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  for (const l of [head, ...lines]) console.log(l.map((x, c) => x.padStart(widths[c])).join('  '));
}

async function ciMode(o: Options): Promise<Row[]> {
  const rows: Row[] = [];
  for (const name of o.targets) {
    const target = targetNamed(name);
    const seeds = await target.seeds();
    const findings: Finding[] = [];
    const started = performance.now();
    const counts = await fuzz(target, seeds, freshCounts(), {
      to: o.inputs,
      deadline: started + o.seconds * 1000,
      onFinding: (f, input) => {
        findings.push(f);
        console.error(`${f.kind} in ${f.target} input ${f.index}: ${saveFinding(o.outDir, f, input)}`);
      },
    });
    rows.push({ target: name, counts, seconds: (performance.now() - started) / 1000, findings });
  }
  return rows;
}

interface Checkpoint {
  counts: Counts;
  findings: Finding[];
  seconds: number;
}

function checkpointPath(o: Options, target: string): string {
  return join(o.outDir, target, 'checkpoint.json');
}

function loadCheckpoint(o: Options, target: string): Checkpoint {
  const p = checkpointPath(o, target);
  if (o.fresh || !existsSync(p)) return { counts: freshCounts(), findings: [], seconds: 0 };
  return JSON.parse(readFileSync(p, 'utf8')) as Checkpoint;
}

function saveCheckpoint(o: Options, target: string, c: Checkpoint): void {
  const p = checkpointPath(o, target);
  mkdirSync(join(o.outDir, target), { recursive: true });
  // Written aside and renamed: a kill mid-write leaves the previous checkpoint whole.
  writeFileSync(`${p}.tmp`, JSON.stringify(c, null, 1));
  renameSync(`${p}.tmp`, p);
}

/** Runs one target to `o.inputs` in worker threads, restarting past any input that kills or wedges one. */
async function longTarget(o: Options, name: string): Promise<Row> {
  const cp = loadCheckpoint(o, name);
  const seeds = await targetNamed(name).seeds();
  let sessionStart = performance.now();
  const elapsed = () => cp.seconds + (performance.now() - sessionStart) / 1000;
  const persist = () => saveCheckpoint(o, name, { ...cp, seconds: elapsed() });
  const recordLost = (kind: Finding['kind'], index: number, ms: number, error: string) => {
    const target = targetNamed(name);
    const { seed, data } = inputFor(name, seeds, target.dictionary, index);
    const f: Finding = { kind, target: name, index, seed: seed.name, ms, error };
    saveFinding(o.outDir, f, data);
    cp.findings.push(f);
    cp.counts[kind === 'crash' ? 'crashes' : 'hangs']++;
    // The inputs since the worker's last progress message ran too.
    cp.counts.inputs += index + 1 - cp.counts.next;
    cp.counts.next = index + 1;
    console.error(`${kind} in ${name} input ${index}: ${error}`);
  };
  while (cp.counts.next < o.inputs) {
    const heartbeat = new SharedArrayBuffer(4);
    const beat = new Int32Array(heartbeat);
    Atomics.store(beat, 0, cp.counts.next);
    const input: WorkerInput = {
      target: name,
      counts: { ...cp.counts },
      to: o.inputs,
      outDir: o.outDir,
      heartbeat,
    };
    // A parser that allocates without bound kills its worker, not the run.
    const worker = new Worker(join(__dirname, 'worker.js'), {
      workerData: input,
      resourceLimits: { maxOldGenerationSizeMb: 1536 },
    });
    let lastSaved = 0;
    let seen = -1;
    let seenAt = performance.now();
    let wedged = false;
    const watchdog = setInterval(() => {
      const now = performance.now();
      const at = Atomics.load(beat, 0);
      if (at !== seen) {
        seen = at;
        seenAt = now;
      } else if (now - seenAt > WATCHDOG_MS && !wedged) {
        wedged = true;
        void worker.terminate();
      }
    }, 500);
    const exit = await new Promise<{ code: number; error?: Error }>((resolve) => {
      let error: Error | undefined;
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'finding') {
          cp.findings.push(m.finding);
          console.error(`${m.finding.kind} in ${name} input ${m.finding.index}: ${m.file}`);
        } else cp.counts = m.counts;
        if (m.type === 'done' || performance.now() - lastSaved > 2000) {
          lastSaved = performance.now();
          persist();
        }
      });
      worker.on('error', (err) => (error = err));
      worker.on('exit', (code) => resolve({ code, error }));
    });
    clearInterval(watchdog);
    const stuckAt = Atomics.load(beat, 0);
    if (wedged)
      recordLost('hang', stuckAt, WATCHDOG_MS, `no answer within ${WATCHDOG_MS / 1000} s; worker ended`);
    else if (exit.error || exit.code !== 0)
      recordLost('crash', stuckAt, 0, `worker died: ${exit.error?.stack ?? `exit code ${exit.code}`}`);
    persist();
    cp.seconds = elapsed();
    sessionStart = performance.now();
  }
  return { target: name, counts: cp.counts, seconds: cp.seconds, findings: cp.findings };
}

async function longMode(o: Options): Promise<Row[]> {
  const rows: Row[] = [];
  const queue = [...o.targets];
  const progress = setInterval(() => {
    const parts = o.targets.map((t) => {
      const p = checkpointPath(o, t);
      if (!existsSync(p)) return `${t} -`;
      const c = JSON.parse(readFileSync(p, 'utf8')) as Checkpoint;
      return `${t} ${c.counts.inputs} (${c.counts.crashes}c ${c.counts.hangs}h)`;
    });
    console.log(`${new Date().toISOString()} ${parts.join(' | ')}`);
  }, 60_000);
  const lane = async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) rows.push(await longTarget(o, t));
  };
  try {
    await Promise.all(Array.from({ length: o.jobs }, lane));
  } finally {
    clearInterval(progress);
  }
  return o.targets.map((t) => rows.find((r) => r.target === t) as Row);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const rows = o.long ? await longMode(o) : await ciMode(o);
  printTable(rows);
  const bad = rows.reduce((n, r) => n + r.counts.crashes + r.counts.hangs, 0);
  if (bad > 0) {
    console.error(`${bad} finding(s); inputs under ${o.outDir}/<target>/`);
    process.exitCode = 1;
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 2;
});
