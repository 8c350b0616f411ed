/** What the session and the machine's worker thread say to each other (structured-clone data only). */

/** The worker's start-up data (`workerData`). */
export interface WorkerInit {
  firmwareCode: string;
  /** The instance's variable store: flash bank 1, written through. */
  firmwareVars: string;
  /** A raw image, behind the backend's in-memory copy-on-write overlay (never written). */
  image: string;
  gic: 2 | 3;
  memoryMiB: number;
  time: 'real' | 'deterministic';
}

export type ToWorker =
  | { type: 'input'; text: string }
  | { type: 'reset' }
  | { type: 'powerCycle' }
  | { type: 'ping'; id: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'console'; bytes: Uint8Array }
  /** The guest powered off (PSCI SYSTEM_OFF): the machine waits for a power cycle. */
  | { type: 'off'; instructions: number }
  /** The machine runs again after a power cycle. */
  | { type: 'on' }
  | { type: 'pong'; id: number; instructions: number }
  /** The machine stopped on an error of its own (an instruction it does not implement, a bug). */
  | { type: 'crash'; message: string; instructions: number }
  | { type: 'stopped' };
