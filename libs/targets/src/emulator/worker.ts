/**
 * The emulated machine in a worker thread, so its CPU loop never stalls the agent's event loop
 * (heartbeats, other sessions). Console bytes go out as messages; commands come in as messages and
 * are handled between the machine's slices (`VirtMachine.run` yields every ~20 ms).
 */
import { RawFileBackend, VirtMachine } from '@vmfarm/emulator';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerInit } from './messages';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

const disk = new RawFileBackend(init.image);
const machine = new VirtMachine({
  firmwareCode: init.firmwareCode,
  firmwareVars: init.firmwareVars,
  disk,
  gicVersion: init.gic,
  memoryMiB: init.memoryMiB,
  time: init.time,
  onConsole: (bytes) => post({ type: 'console', bytes: bytes.slice() }),
});

let stopping = false;
/** Set while the guest is off: a power cycle resolves it. */
let powerOn: (() => void) | null = null;

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'input':
      machine.input(m.text);
      break;
    case 'reset':
      machine.reset();
      break;
    case 'powerCycle':
      machine.powerCycle();
      post({ type: 'on' });
      powerOn?.();
      break;
    case 'ping':
      post({ type: 'pong', id: m.id, instructions: machine.instructions });
      break;
    case 'stop':
      stopping = true;
      powerOn?.();
      break;
  }
});

async function main(): Promise<void> {
  while (!stopping) {
    const r = await machine.run({ until: () => stopping, timeoutMs: 1000 });
    if (r === 'off' && !stopping) {
      post({ type: 'off', instructions: machine.instructions });
      await new Promise<void>((r) => (powerOn = r));
      powerOn = null;
    }
  }
}

main().then(
  () => {
    machine.close();
    disk.close();
    post({ type: 'stopped' });
    port.close();
  },
  (err: unknown) => {
    machine.close();
    disk.close();
    post({
      type: 'crash',
      message: (err as Error).message ?? String(err),
      instructions: machine.instructions,
    });
    port.close();
  },
);
