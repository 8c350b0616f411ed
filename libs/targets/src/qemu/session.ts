import { LocalTransport, type HostCommand, type HostTransport } from '@vmfarm/host';
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
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { qemuArgs, shellLine, type LaunchFiles } from './cmdline';
import { QmpCommandError } from './errors';
import { QemuHotplug, QMP_TIMEOUT_MS, type ScratchDisks } from './hotplug';
import type { MachineDescription } from './machine';
import { platformFacts, type QueryGicCapability } from './platform';
import type { QemuProfile } from './profile';
import { QmpConnection, type QmpEvent, type QmpHooks, type QmpTranscriptEntry, type SessionQmp } from './qmp';

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** How long `state()` waits for QEMU to answer `query-status` by default. */
const STATE_TIMEOUT_MS = 5000;

/** Paths on the QEMU host a session runs with, resolved from the profile's names against the host probe. */
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

async function run(t: HostTransport, file: string, args: string[], timeoutMs: number): Promise<void> {
  const r = await t
    .exec(file, args, { timeoutMs })
    .catch((err: Error) => ({ code: null, stderr: err.message }));
  if (r.code !== 0)
    throw new BootError(`${shellLine(file, args)} failed: ${r.stderr.trim() || `status ${r.code}`}`);
}

/**
 * One QEMU instance: its process (restarted by a power cycle), console, QMP connection and files,
 * on the agent's host or on one its transport reaches. The (local) instance directory keeps `vars.fd`
 * and, after close, `console.log`, `qmp.jsonl` and `qemu.log`. The run directory (QMP socket,
 * overlay, scratch disks; on a remote host also the image, the variable store and serial.log, which
 * come back on close) is under the instance directory here, in the host's /tmp there, and goes on close.
 */
export class QemuSession implements VmSession {
  readonly console: GuestConsole;
  readonly qmp: SessionQmp;
  readonly hotplug: QemuHotplug;
  readonly instanceDir: string;

  private readonly waits: Waits;
  private readonly started = Date.now();
  private runDir = '';
  private socketDir: string | null = null;
  private files: LaunchFiles | null = null;
  private args: string[] = [];
  private readonly qmpLog: QmpTranscriptEntry[] = [];
  private readonly qmpEvents: QmpEvent[] = [];
  private readonly image: { path: string; format: ImageFormat };
  private child: HostCommand | null = null;
  private childPid: number | undefined;
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
    private readonly transport: HostTransport = new LocalTransport(),
  ) {
    this.waits = new Waits({
      lastLines: () => this.console.lastLines(),
      gone: (awaited) => this.gone(awaited),
    });
    this.console = new GuestConsole(this.waits);
    this.instanceDir = resolve(spec.instanceDir);
    mkdirSync(this.instanceDir, { recursive: true });
    this.image = { path: resolve(spec.image), format: spec.format };
    this.qmp = {
      execute: (command, args, timeoutMs) => this.execute(command, args, timeoutMs),
      waitForEvent: (name, options) => this.waitForEvent(name, options),
      events: () => this.qmpEvents,
      transcript: () => this.qmpLog,
    };
    const scratch: ScratchDisks = transport.remote
      ? {
          path: (n) => `${this.runDir}/scratch${n}.img`,
          create: (path, bytes) =>
            run(transport, host.qemuImg, ['create', '-q', '-f', 'raw', path, String(bytes)], QMP_TIMEOUT_MS),
          remove: (path) => void transport.remove(path).catch(() => {}),
        }
      : {
          path: (n) => join(this.runDir, `scratch${n}.img`),
          create: async (path, bytes) => {
            writeFileSync(path, '');
            truncateSync(path, bytes); // sparse
          },
          remove: (path) => rmSync(path, { force: true }),
        };
    this.hotplug = new QemuHotplug(this.qmp, machine.rootPorts, scratch);
  }

  /** The launch command (for logs and bug reports); empty until the first start. */
  get commandLine(): string {
    return this.files ? shellLine(this.host.qemu, this.args) : '';
  }

  /** Where the VM's files go on the QEMU host: beside the instance here, under the host's /tmp there. */
  private async prepare(): Promise<LaunchFiles> {
    const local = join(this.instanceDir, 'vars.fd');
    if (!this.transport.remote) {
      this.runDir = mkdtempSync(join(this.instanceDir, '.run-'));
      let qmpSocket = join(this.runDir, 'qmp.sock');
      if (qmpSocket.length > MAX_SOCKET_PATH) {
        this.socketDir = mkdtempSync(join(tmpdir(), 'vmfarm-qmp-'));
        qmpSocket = join(this.socketDir, 'qmp.sock');
      }
      return {
        code: this.host.code,
        vars: local,
        image: this.image.path,
        imageFormat: this.image.format,
        overlay: join(this.runDir, 'disk.qcow2'),
        qmp: { path: qmpSocket },
        serialLog: join(this.instanceDir, 'serial.log'),
      };
    }
    this.runDir = await this.transport.mkdtemp('vmfarm-qemu-');
    const files: LaunchFiles = {
      code: this.host.code,
      vars: `${this.runDir}/vars.fd`,
      image: `${this.runDir}/image.${this.image.format}`,
      imageFormat: this.image.format,
      overlay: `${this.runDir}/disk.qcow2`,
      // Any SSH server forwards TCP; unix sockets only OpenSSH's.
      qmp: { port: await this.transport.freePort() },
      serialLog: `${this.runDir}/serial.log`,
    };
    await this.transport.upload(this.image.path, files.image);
    // The instance's variable store lives here between sessions and travels with each one.
    if (existsSync(local) && this.profile.nvram !== 'volatile')
      await this.transport.upload(local, files.vars);
    return files;
  }

  /**
   * Prepares the instance's files on first start (a sparse copy of the variables template; the
   * overlay, whose backing node is given on the command line, never named in its header), then
   * launches QEMU and connects QMP.
   */
  async start(timeoutMs: number): Promise<void> {
    const t = this.transport;
    if (!this.files) {
      this.files = await this.prepare();
      this.args = qemuArgs(this.machine, this.files);
    }
    // From here: moving the image to a remote host takes what its size takes, not QEMU's start time.
    const deadline = Date.now() + timeoutMs;
    const files = this.files;
    if (!(await t.exists(files.vars)) || this.profile.nvram === 'volatile')
      // busybox cp (a small host's) has no --sparse.
      await run(
        t,
        'cp',
        [...(t.remote ? [] : ['--sparse=always']), this.host.varsTemplate, files.vars],
        timeoutMs,
      );
    if (!(await t.exists(files.overlay))) {
      const size = virtualSize(this.image.path, this.image.format);
      await run(
        t,
        this.host.qemuImg,
        ['create', '-q', '-f', 'qcow2', files.overlay, String(size)],
        timeoutMs,
      );
    }
    if (this.closed) throw new SessionClosedError('QEMU start');

    const child = t.spawn(this.host.qemu, this.args);
    this.child = child;
    this.childPid = undefined;
    this.exit = null;
    this.childGone = child.exited.then(() => {});
    const decoder = new StringDecoder('utf8');
    child.stdout.on('data', (b: Buffer) => this.console.append(decoder.write(b)));
    child.stderr.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4096)));
    child.stdin.on('error', () => {}); // EPIPE once QEMU is gone; the exit is reported instead
    // A late event of a process a power cycle has replaced says nothing about the current one.
    child.pid.then(
      (pid) => this.child === child && (this.childPid = pid),
      (err: Error) => {
        if (this.child !== child) return;
        this.exit ??= `could not start (${err.message})`;
        this.waits.failGone();
      },
    );
    void child.exited.then(({ code, signal, lost }) => {
      if (this.child !== child) return;
      this.exit ??= lost
        ? `was lost with its host (${lost})`
        : signal
          ? `was killed by ${signal}`
          : `exited with status ${code}`;
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
      const where = 'path' in files.qmp ? files.qmp.path : `${t.url} port ${files.qmp.port}`;
      conn = await QmpConnection.connect(() => t.openStream(files.qmp), where, deadline, alive, hooks);
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
    const local = join(this.instanceDir, 'vars.fd');
    // On a remote host, the store as it is there now, fetched beside the instance.
    if (this.transport.remote && this.files) await this.transport.download(this.files.vars, local);
    return { file: local };
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
    return this.childPid;
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
    if (!this.transport.remote) {
      if (this.runDir) rmSync(this.runDir, { recursive: true, force: true });
      if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
      return;
    }
    if (!this.runDir) return;
    // What the instance keeps comes back; then nothing of it stays on the host.
    for (const [from, to] of [
      [this.files?.vars, 'vars.fd'],
      [this.files?.serialLog, 'serial.log'],
    ] as const)
      if (from && (await this.transport.exists(from).catch(() => false)))
        await this.transport.download(from, join(this.instanceDir, to)).catch(() => {});
    await this.transport.remove(this.runDir).catch(() => {});
  }

  /** Ends QEMU: SIGTERM (and SIGCONT, for a stopped one), then SIGKILL if it lingers. */
  private async killGroup(child: HostCommand): Promise<void> {
    const done = this.child === child ? this.childGone : child.exited;
    if (await within(done, 0)) return;
    await child.kill('SIGTERM');
    await child.kill('SIGCONT');
    if (await within(done, 3000)) return;
    await child.kill('SIGKILL');
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
