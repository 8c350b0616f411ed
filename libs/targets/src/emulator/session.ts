import {
  GuestConsole,
  SessionClosedError,
  SessionTimeoutError,
  VmExitedError,
  Waits,
  type InstanceVariables,
  type PlatformFacts,
  type VmSession,
  type VmState,
} from '@vmfarm/session';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Worker } from 'node:worker_threads';
import { EmulatorHotplug } from './hotplug';
import type { FromWorker, ToWorker, WorkerInit } from './messages';
import type { EmulatorProfile } from './profile';

const STATE_TIMEOUT_MS = 5000;
/** The machine as QEMU would name it (the emulator builds QEMU 7.2's `virt` with these options). */
const MACHINE = 'virt,highmem=off';

export interface EmulatorHostFiles {
  code: string;
  varsTemplate: string;
}

/**
 * One emulator instance: the machine in a worker thread, its console and its files. The instance
 * directory keeps `vars.fd` and, after close, `console.log` and `emulator.log`; nothing else is
 * written (the disk overlay is memory in the worker: a power cycle keeps it, as the same machine is
 * powered on again; close drops it with the thread).
 */
export class EmulatorSession implements VmSession {
  readonly console: GuestConsole;
  readonly hotplug = new EmulatorHotplug();
  readonly instanceDir: string;
  readonly vars: string;

  private readonly waits: Waits;
  private worker: Worker | null = null;
  private workerGone: Promise<void> = Promise.resolve();
  private exit: string | null = null;
  private instructions = 0;
  private readonly pongs = new Map<number, number>();
  private pingSeq = 0;
  private log: string[] = [];
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    readonly profile: EmulatorProfile,
    private readonly image: string,
    instanceDir: string,
    private readonly host: EmulatorHostFiles,
    private readonly time: 'real' | 'deterministic' = 'real',
  ) {
    this.waits = new Waits({
      lastLines: () => this.console.lastLines(),
      gone: (awaited) => this.gone(awaited),
    });
    this.console = new GuestConsole(this.waits);
    this.instanceDir = resolve(instanceDir);
    mkdirSync(this.instanceDir, { recursive: true });
    this.vars = join(this.instanceDir, 'vars.fd');
  }

  /** Copies the variables template on first start (or every start with volatile NVRAM), starts the worker. */
  start(): void {
    if (!existsSync(this.vars) || this.profile.nvram === 'volatile')
      copyFileSync(this.host.varsTemplate, this.vars);
    const init: WorkerInit = {
      firmwareCode: this.host.code,
      firmwareVars: this.vars,
      image: resolve(this.image),
      gic: this.profile.gic,
      memoryMiB: this.profile.memoryMiB,
      time: this.time,
    };
    const worker = new Worker(join(__dirname, 'worker.js'), { workerData: init });
    this.worker = worker;
    this.exit = null;
    this.note(`start gic=${init.gic} memoryMiB=${init.memoryMiB} time=${init.time} image=${init.image}`);
    this.workerGone = new Promise((done) => worker.once('exit', () => done()));
    const decoder = new StringDecoder('utf8');
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'console':
          this.console.append(decoder.write(Buffer.from(m.bytes)));
          return;
        case 'off':
          this.instructions = m.instructions;
          this.stopped('powered off (PSCI SYSTEM_OFF)');
          return;
        case 'on':
          this.exit = null;
          this.console.attach((text) => this.send({ type: 'input', text }));
          return;
        case 'pong':
          this.instructions = m.instructions;
          this.pongs.set(m.id, m.instructions);
          this.waits.notify();
          return;
        case 'crash':
          this.instructions = m.instructions;
          this.stopped(`stopped on an error: ${m.message}`);
          return;
        case 'stopped':
          return;
      }
    });
    worker.once('error', (err) => this.stopped(`failed: ${err.message}`));
    worker.once('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.stopped(`worker exited with status ${code}`);
    });
    this.console.attach((text) => this.send({ type: 'input', text }));
  }

  private stopped(how: string): void {
    this.note(how);
    this.exit ??= how;
    this.console.attach(null);
    this.waits.failGone();
  }

  private note(line: string): void {
    this.log.push(`${new Date().toISOString()} ${line}`);
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private gone(awaited: string): Error | null {
    if (this.closed) return new SessionClosedError(awaited);
    if (this.exit !== null)
      return new VmExitedError(awaited, this.exit, this.console.lastLines(), '', 'the emulator');
    return null;
  }

  async reset(): Promise<void> {
    const gone = this.gone('reset');
    if (gone) throw gone;
    this.note('reset');
    this.send({ type: 'reset' });
  }

  /** Powers the same machine off and on: flash banks read again from their files, the disk overlay kept. */
  async powerCycle(): Promise<void> {
    if (this.closed) throw new SessionClosedError('power cycle');
    if (!this.worker) throw this.gone('power cycle')!;
    this.note('power cycle');
    this.exit = null;
    this.send({ type: 'powerCycle' });
    this.console.attach((text) => this.send({ type: 'input', text }));
  }

  async variables(): Promise<InstanceVariables> {
    return { file: this.vars };
  }

  async platform(): Promise<PlatformFacts> {
    const p = this.profile;
    return {
      driver: 'emulator',
      accel: 'interpreter',
      cpu: 'cortex-a57',
      smp: 1,
      memoryMiB: p.memoryMiB,
      console: p.console,
      gic: { version: p.gic, available: [2, 3] },
      // edk2's ArmVirtQemu installs the FDT when it is given no ACPI tables; the machine gives none.
      description: { fdt: true, acpi: false },
      hotplugPorts: 0,
      evidence: {
        machine: MACHINE,
        gicVersion: p.gic,
        hotplug: 'the emulator machine has no PCIe root ports yet',
        instructions: this.instructions,
      },
    };
  }

  async state(timeoutMs = STATE_TIMEOUT_MS): Promise<VmState> {
    const gone = this.gone('state');
    if (gone) return { running: false, why: gone.message };
    const id = ++this.pingSeq;
    this.send({ type: 'ping', id });
    try {
      await this.waits.wait('the emulator worker', timeoutMs, () => this.pongs.get(id));
      this.pongs.delete(id);
      return { running: true };
    } catch (err) {
      if (err instanceof SessionTimeoutError)
        return {
          running: false,
          why: `the emulator worker did not answer within ${timeoutMs} ms: it is hung`,
        };
      return { running: false, why: (err as Error).message };
    }
  }

  /** The worker's thread id while it runs (tests check it is gone after close). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.waits.failGone();
    const worker = this.worker;
    if (worker) {
      this.send({ type: 'stop' });
      if (!(await within(this.workerGone, 3000))) await worker.terminate();
    }
    this.worker = null;
    for (const [name, content] of [
      ['console.log', () => this.console.transcript()],
      ['emulator.log', () => this.log.join('\n') + '\n'],
    ] as const) {
      try {
        writeFileSync(join(this.instanceDir, name), content());
      } catch {
        // the instance dir went away: nothing to keep
      }
    }
  }
}

/** True when `p` settled within `ms`. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]).finally(() => clearTimeout(timer));
}
