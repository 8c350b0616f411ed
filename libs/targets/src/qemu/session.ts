import { spawnGuarded } from '@vmfarm/host';
import type { ImageFormat } from '@vmfarm/protocol';
import {
  GuestConsole,
  SessionClosedError,
  SessionTimeoutError,
  VmExitedError,
  Waits,
  BootError,
  type InstanceVariables,
  type PlatformFacts,
  type VmSession,
  type VmState,
} from '@vmfarm/session';
import { execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { qemuArgs, shellLine, type LaunchFiles } from './cmdline';
import { QmpCommandError } from './errors';
import { QemuHotplug, QMP_TIMEOUT_MS } from './hotplug';
import type { MachineDescription } from './machine';
import { platformFacts, type QueryGicCapability } from './platform';
import type { QemuProfile } from './profile';
import { QmpConnection, type QmpEvent, type QmpHooks, type QmpTranscriptEntry, type SessionQmp } from './qmp';

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** How long `state()` waits for QEMU to answer `query-status` by default. */
const STATE_TIMEOUT_MS = 5000;

/** Host paths a session runs with, resolved from the profile's names against the host probe. */
export interface QemuHostFiles {
  qemu: string;
  qemuImg: string;
  code: string;
  varsTemplate: string;
}

/** The virtual size of an image in the format the job states (qcow2: its header's size field). */
function virtualSize(image: string, format: ImageFormat): number {
  if (format === 'raw') return statSync(image).size;
  const fd = openSync(image, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    return Number(header.readBigUInt64BE(24));
  } finally {
    closeSync(fd);
  }
}

function run(file: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((done, fail) =>
    execFile(file, args, { timeout: timeoutMs }, (err, _stdout, stderr) =>
      err
        ? fail(new BootError(`${shellLine(file, args)} failed: ${String(stderr).trim() || err.message}`))
        : done(),
    ),
  );
}

/**
 * One QEMU instance: its process (restarted by a power cycle), console, QMP connection and files.
 * The instance directory keeps `vars.fd` and, after close, `console.log`, `qmp.jsonl` and `qemu.log`;
 * the run directory under it (QMP socket, overlay, scratch disks) goes on close.
 */
export class QemuSession implements VmSession {
  readonly console: GuestConsole;
  readonly qmp: SessionQmp;
  readonly hotplug: QemuHotplug;
  readonly instanceDir: string;
  /** The launch command (for logs and bug reports). */
  readonly commandLine: string;

  private readonly waits: Waits;
  private readonly started = Date.now();
  private readonly runDir: string;
  private readonly socketDir: string | null = null;
  private readonly files: LaunchFiles;
  private readonly args: string[];
  private readonly qmpLog: QmpTranscriptEntry[] = [];
  private readonly qmpEvents: QmpEvent[] = [];
  private child: ChildProcessWithoutNullStreams | null = null;
  private childGone: Promise<void> = Promise.resolve();
  private exit: string | null = null;
  private stderr = '';
  private conn: QmpConnection | null = null;
  private cycling = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    readonly profile: QemuProfile,
    readonly machine: MachineDescription,
    spec: { image: string; format: ImageFormat; instanceDir: string },
    private readonly host: QemuHostFiles,
  ) {
    this.waits = new Waits({
      lastLines: () => this.console.lastLines(),
      gone: (awaited) => this.gone(awaited),
    });
    this.console = new GuestConsole(this.waits);
    this.instanceDir = resolve(spec.instanceDir);
    mkdirSync(this.instanceDir, { recursive: true });
    this.runDir = mkdtempSync(join(this.instanceDir, '.run-'));
    let qmpSocket = join(this.runDir, 'qmp.sock');
    if (qmpSocket.length > MAX_SOCKET_PATH) {
      this.socketDir = mkdtempSync(join(tmpdir(), 'vmfarm-qmp-'));
      qmpSocket = join(this.socketDir, 'qmp.sock');
    }
    this.files = {
      code: host.code,
      vars: join(this.instanceDir, 'vars.fd'),
      image: resolve(spec.image),
      imageFormat: spec.format,
      overlay: join(this.runDir, 'disk.qcow2'),
      qmpSocket,
      serialLog: join(this.instanceDir, 'serial.log'),
    };
    this.args = qemuArgs(machine, this.files);
    this.commandLine = shellLine(host.qemu, this.args);
    this.qmp = {
      execute: (command, args, timeoutMs) => this.execute(command, args, timeoutMs),
      waitForEvent: (name, options) => this.waitForEvent(name, options),
      events: () => this.qmpEvents,
      transcript: () => this.qmpLog,
    };
    this.hotplug = new QemuHotplug(this.qmp, machine.rootPorts, this.runDir);
  }

  /**
   * Prepares the instance's files on first start (a sparse copy of the variables template; the
   * overlay, whose backing node is given on the command line, never named in its header), then
   * launches QEMU and connects QMP.
   */
  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!existsSync(this.files.vars) || this.profile.nvram === 'volatile')
      await run('cp', ['--sparse=always', this.host.varsTemplate, this.files.vars], timeoutMs);
    if (!existsSync(this.files.overlay)) {
      const size = virtualSize(this.files.image, this.files.imageFormat);
      await run(
        this.host.qemuImg,
        ['create', '-q', '-f', 'qcow2', this.files.overlay, String(size)],
        timeoutMs,
      );
    }
    if (this.closed) throw new SessionClosedError('QEMU start');

    const child = spawnGuarded(this.host.qemu, this.args, {
      stdio: 'pipe',
      cwd: this.runDir,
    }) as ChildProcessWithoutNullStreams;
    this.child = child;
    this.exit = null;
    this.childGone = new Promise((done) => child.once('close', () => done()));
    const decoder = new StringDecoder('utf8');
    child.stdout.on('data', (b: Buffer) => this.console.append(decoder.write(b)));
    child.stderr.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4096)));
    child.stdin.on('error', () => {}); // EPIPE once QEMU is gone; the exit is reported instead
    // A late event of a process a power cycle has replaced says nothing about the current one.
    child.once('error', (err) => {
      if (this.child !== child) return;
      this.exit = `could not start (${err.message})`;
      this.waits.failGone();
    });
    child.once('close', (code, signal) => {
      if (this.child !== child) return;
      this.exit ??= signal ? `was killed by ${signal}` : `exited with status ${code}`;
      this.console.attach(null);
      this.waits.failGone();
    });
    this.console.attach((text) => child.stdin.write(text));

    const hooks: QmpHooks = {
      record: (dir, message) => this.qmpLog.push({ ms: Date.now() - this.started, dir, message }),
      event: (event) => this.qmpEvents.push(event),
      notify: () => this.waits.notify(),
    };
    const alive = () => this.child === child && this.exit === null;
    let conn: QmpConnection;
    try {
      conn = await QmpConnection.connect(this.files.qmpSocket, deadline, alive, hooks);
    } catch (err) {
      throw this.gone('QMP connection') ?? new BootError((err as Error).message);
    }
    this.conn = conn;
    await this.waits.wait('QMP greeting', Math.max(1, deadline - Date.now()), () => conn.greeting);
    await this.execute('qmp_capabilities', undefined, Math.max(1, deadline - Date.now()));
  }

  private gone(awaited: string): Error | null {
    if (this.closed) return new SessionClosedError(awaited);
    if (this.exit !== null && !this.cycling)
      return new VmExitedError(awaited, this.exit, this.console.lastLines(), this.stderr, 'QEMU');
    return null;
  }

  private async execute<T>(
    command: string,
    args?: Record<string, unknown>,
    timeoutMs = QMP_TIMEOUT_MS,
  ): Promise<T> {
    const conn = this.conn;
    if (!conn || conn.closed)
      throw this.gone(`QMP ${command}`) ?? new Error(`QMP is not connected (${command})`);
    const id = conn.send(command, args);
    const reply = await this.waits.wait(`QMP reply to ${command}`, timeoutMs, () => conn.takeReply(id));
    if (reply.type === 'error') throw new QmpCommandError(command, reply.errorClass, reply.desc);
    return (reply.type === 'return' ? reply.value : undefined) as T;
  }

  private waitForEvent(
    name: string,
    o: { timeoutMs: number; since?: number; where?: (e: QmpEvent) => boolean; what?: string },
  ): Promise<QmpEvent> {
    return this.waits.wait(o.what ?? `QMP event ${name}`, o.timeoutMs, () =>
      this.qmpEvents.slice(o.since ?? 0).find((e) => e.event === name && (!o.where || o.where(e))),
    );
  }

  async reset(): Promise<void> {
    await this.execute('system_reset');
  }

  async powerCycle(timeoutMs = 30_000): Promise<void> {
    if (this.closed) throw new SessionClosedError('power cycle');
    this.cycling = true;
    try {
      const child = this.child;
      if (child && this.exit === null) {
        this.conn?.send('quit');
        if (!(await within(this.childGone, timeoutMs))) await this.killGroup(child);
      }
      this.conn?.close();
      this.conn = null;
      this.hotplug.forgetAll();
      await this.start(timeoutMs);
    } finally {
      this.cycling = false;
      this.waits.failGone();
    }
  }

  async variables(): Promise<InstanceVariables> {
    return { file: this.files.vars };
  }

  async platform(): Promise<PlatformFacts> {
    return platformFacts(this.machine, await this.execute<QueryGicCapability[]>('query-gic-capabilities'));
  }

  async state(timeoutMs = STATE_TIMEOUT_MS): Promise<VmState> {
    try {
      const s = await this.execute<{ running: boolean; status: string }>(
        'query-status',
        undefined,
        timeoutMs,
      );
      return s.running ? { running: true } : { running: false, why: `QEMU reports the VM ${s.status}` };
    } catch (err) {
      if (err instanceof SessionTimeoutError)
        return { running: false, why: `QEMU did not answer query-status within ${timeoutMs} ms: it is hung` };
      return { running: false, why: (err as Error).message };
    }
  }

  /** The QEMU process id while one runs (tests check it is gone after close). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.waits.failGone();
    this.conn?.close();
    if (this.child) await this.killGroup(this.child);
    const artifacts: [string, () => string][] = [
      ['console.log', () => this.console.transcript()],
      ['qmp.jsonl', () => this.qmpLog.map((e) => JSON.stringify(e)).join('\n') + '\n'],
      ['qemu.log', () => `${this.commandLine}\n${this.exit ? `QEMU ${this.exit}\n` : ''}${this.stderr}`],
    ];
    for (const [name, content] of artifacts) {
      try {
        writeFileSync(join(this.instanceDir, name), content());
      } catch {
        // the instance dir went away: nothing to keep
      }
    }
    rmSync(this.runDir, { recursive: true, force: true });
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }

  /** Ends QEMU's whole process group: SIGTERM (and SIGCONT, for a stopped one), then SIGKILL if it lingers. */
  private async killGroup(child: ChildProcessWithoutNullStreams): Promise<void> {
    if (child.pid === undefined) return;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // the group is gone already
      }
    };
    const done = this.child === child ? this.childGone : Promise.resolve();
    if (child.exitCode !== null || child.signalCode !== null) return void (await within(done, 5000));
    signal('SIGTERM');
    signal('SIGCONT');
    if (await within(done, 3000)) return;
    signal('SIGKILL');
    await within(done, 10_000);
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
