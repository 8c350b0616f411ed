/**
 * One target's long run in a worker thread: the main thread watches its heartbeat (the input number
 * in shared memory) and ends it if one input never returns.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fuzz, type Counts, type Finding } from './engine';
import { saveFinding } from './findings';
import { targetNamed } from './targets';

export interface WorkerInput {
  target: string;
  counts: Counts;
  to: number;
  outDir: string;
  /** Int32Array[0]: the input number being run. */
  heartbeat: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'progress'; counts: Counts }
  | { type: 'finding'; finding: Finding; file: string }
  | { type: 'done'; counts: Counts };

async function main(): Promise<void> {
  const w = workerData as WorkerInput;
  const port = parentPort;
  if (!port) throw new Error('worker.js runs as a worker thread of main.js');
  const target = targetNamed(w.target);
  const seeds = await target.seeds();
  const beat = new Int32Array(w.heartbeat);
  const counts = await fuzz(target, seeds, w.counts, {
    to: w.to,
    every: 500,
    beforeInput: (i) => Atomics.store(beat, 0, i),
    onFinding: (finding, input) =>
      port.postMessage({ type: 'finding', finding, file: saveFinding(w.outDir, finding, input) }),
    onProgress: (c) => port.postMessage({ type: 'progress', counts: { ...c } }),
  });
  port.postMessage({ type: 'done', counts });
}

void main();
