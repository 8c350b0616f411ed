import { performance } from 'node:perf_hooks';
import { inputFor, type Seed } from './mutate';

/** One parser under test. */
export interface Target {
  name: string;
  /** Starting inputs, always in the same order (input numbers depend on it). */
  seeds(): Promise<Seed[]>;
  /** Tokens the mutator splices in: magics and markers the parser looks for. */
  dictionary: readonly Buffer[];
  /** Parses one input the way the farm does; resolves, or throws. */
  run(input: Buffer): Promise<void> | void;
  /** True for the parser's own refusal of a malformed input: the expected outcome, not a finding. */
  expected(err: unknown): boolean;
}

/** A parser outside one second per input: the agent or controller would stall on it. */
export const HANG_MS = 1000;
/**
 * Runs of an input over HANG_MS before it counts as a hang: on a loaded host a run may wait for a
 * core longer than that, so a hang is an input whose fastest of these runs is still over the limit.
 */
const HANG_RUNS = 3;

/** One run of an input: how long it took and what it threw (null when it returned). */
async function once(target: Target, data: Buffer): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await target.run(data);
    return { ms: performance.now() - started, error: null };
  } catch (err) {
    return { ms: performance.now() - started, error: err ?? new Error('thrown nullish value') };
  }
}

export interface Counts {
  /** Next input number to run. */
  next: number;
  inputs: number;
  /** Inputs the parser refused with its own typed error. */
  refusals: number;
  crashes: number;
  hangs: number;
  slowestMs: number;
}

export interface Finding {
  kind: 'crash' | 'hang';
  target: string;
  index: number;
  seed: string;
  ms: number;
  error?: string;
}

export function freshCounts(from = 0): Counts {
  return { next: from, inputs: 0, refusals: 0, crashes: 0, hangs: 0, slowestMs: 0 };
}

export interface RunOptions {
  /** Stop before this input number. */
  to: number;
  /** Stop at this performance.now() instant too (CI bound). */
  deadline?: number;
  onFinding(f: Finding, input: Buffer): void;
  /** Called with the counts every `every` inputs and at the end. */
  onProgress?(c: Counts): void;
  every?: number;
  /** Called before each input with its number (the watchdog's heartbeat). */
  beforeInput?(i: number): void;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ''}`;
  return `thrown non-Error: ${String(err)}`;
}

/** Runs inputs `counts.next` .. `to` of a target, updating `counts` in place. */
export async function fuzz(
  target: Target,
  seeds: readonly Seed[],
  counts: Counts,
  o: RunOptions,
): Promise<Counts> {
  const every = o.every ?? 1000;
  while (counts.next < o.to && (o.deadline === undefined || performance.now() < o.deadline)) {
    const i = counts.next;
    o.beforeInput?.(i);
    const { seed, data } = inputFor(target.name, seeds, target.dictionary, i);
    const first = await once(target, data);
    const error = first.error;
    let ms = first.ms;
    for (let k = 1; k < HANG_RUNS && ms > HANG_MS; k++) ms = Math.min(ms, (await once(target, data)).ms);
    counts.inputs++;
    counts.next = i + 1;
    if (ms > counts.slowestMs) counts.slowestMs = ms;
    const base = { target: target.name, index: i, seed: seed.name, ms };
    if (error !== null && !target.expected(error)) {
      counts.crashes++;
      o.onFinding({ ...base, kind: 'crash', error: describe(error) }, data);
    } else if (error !== null) counts.refusals++;
    if (ms > HANG_MS) {
      counts.hangs++;
      o.onFinding({ ...base, kind: 'hang' }, data);
    }
    if (counts.inputs % every === 0) o.onProgress?.(counts);
  }
  o.onProgress?.(counts);
  return counts;
}
