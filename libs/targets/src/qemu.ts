import { spawnGuarded } from '@vmfarm/host';
import { execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { accepts } from './accepts';
import {
  BootError,
  GuestConsole,
  SessionClosedError,
  TargetRefusedError,
  VmExitedError,
  Waits,
  type GicVersion,
  type HotplugHandle,
  type HotplugKind,
  type HotplugPort,
  type PlatformFacts,
  type SessionHotplug,
  type VmSession,
} from '@vmfarm/session';
import { qemuArgs, rootPortId, shellLine, type DiskFormat, type LaunchFiles } from './cmdline';
import { QmpCommandError } from './errors';
import { probeHost, resolveHostFile, type HostProbe } from './probe';
import { applyOverrides, type MachineOverrides, type QemuProfile } from './profile';
import { QmpConnection, type QmpEvent, type QmpHooks, type QmpTranscriptEntry, type SessionQmp } from './qmp';

export interface QemuBootSpec {
  /** The disk image; never written to (QEMU writes to a qcow2 overlay in the instance dir). */
  image: string;
  /** Detected from the file's first bytes when not given. */
  format?: DiskFormat;
  /**
   * Kept after close for artifacts: `vars.fd` (the instance's variable store, a sparse copy of the
   * profile's template made on first boot and reused after), `console.log`, `qmp.jsonl`, `qemu.log`.
   */
  instanceDir: string;
  overrides?: MachineOverrides;
  /** A host probe to decide `accepts` with (probed now when absent). */
  probe?: HostProbe;
  /** Until QEMU answers on QMP (default 30 s). */
  startTimeoutMs?: number;
}

/** Default waits for QMP replies and device removal (pciehp alone waits 5 s before releasing a slot). */
const QMP_TIMEOUT_MS = 15_000;
const UNPLUG_TIMEOUT_MS = 30_000;
const SCRATCH_BYTES = 64 * 1024 * 1024;
/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function detectFormat(image: string): DiskFormat {
  const fd = openSync(image, 'r');
  try {
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    return magic.equals(Buffer.from([0x51, 0x46, 0x49, 0xfb])) ? 'qcow2' : 'raw';
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
 * Boots `profile` (with the spec's overrides) on QEMU. Refuses, with the reasons, a profile this host
 * cannot run; on any failure after QEMU started, it closes the session before throwing.
 */
export async function boot(profile: QemuProfile, spec: QemuBootSpec): Promise<QemuSession> {
  const effective = applyOverrides(profile, spec.overrides);
  const probe = spec.probe ?? (await probeHost({ files: [effective.firmwareCode, effective.firmwareVars] }));
  const verdict = accepts(effective, probe);
  if (!verdict.ok) throw new TargetRefusedError(effective.id, verdict.reasons);
  if (!existsSync(spec.image)) throw new BootError(`no image at ${spec.image}`);
  const host = (value: string) => {
    const found = resolveHostFile(probe, value);
    if (!found.ok) throw new BootError(found.reason); // accepts() said it was there
    return found.path;
  };
  const session = new QemuSession(effective, spec, {
    qemu: probe.binaries[effective.binary]!.path,
    qemuImg: probe.binaries['qemu-img']!.path,
    code: host(effective.firmwareCode),
    varsTemplate: host(effective.firmwareVars),
  });
  try {
    await session.start(spec.startTimeoutMs ?? 30_000);
    return session;
  } catch (err) {
    await session.close();
    throw err;
  }
}

interface Plugged extends HotplugHandle {
  node?: string;
  netdev?: string;
  file?: string;
}

export class QemuSession implements VmSession {
  readonly console: GuestConsole;
  readonly qmp: SessionQmp;
  readonly hotplug: SessionHotplug;
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
  private readonly plugged = new Map<string, Plugged>();
  private plugSeq = 0;

  constructor(
    readonly profile: QemuProfile,
    private readonly spec: QemuBootSpec,
    /** Host paths, resolved from the profile's names against the probe. */
    private readonly host: { qemu: string; qemuImg: string; code: string; varsTemplate: string },
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
      disk: join(this.runDir, 'disk.qcow2'),
      diskFormat: 'qcow2',
      qmpSocket,
      serialLog: join(this.instanceDir, 'serial.log'),
    };
    this.args = qemuArgs(profile, this.files);
    this.commandLine = shellLine(host.qemu, this.args);
    this.qmp = {
      execute: (command, args, timeoutMs) => this.execute(command, args, timeoutMs),
      waitForEvent: (name, options) => this.waitForEvent(name, options),
      events: () => this.qmpEvents,
      transcript: () => this.qmpLog,
    };
    this.hotplug = {
      status: (timeoutMs) => this.ports(timeoutMs),
      driver: (handle, timeoutMs) => this.driverState(handle, timeoutMs),
      add: (request, timeoutMs) => this.plug(request.kind, timeoutMs),
      remove: (handle, timeoutMs) => this.unplug(handle, timeoutMs),
    };
  }

  /** Prepares the instance's files on first start, then launches QEMU and connects QMP. */
  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!existsSync(this.files.vars) || this.profile.nvram === 'volatile')
      await run('cp', ['--sparse=always', this.host.varsTemplate, this.files.vars], timeoutMs);
    if (!existsSync(this.files.disk)) {
      const format = this.spec.format ?? detectFormat(this.spec.image);
      const image = resolve(this.spec.image);
      await run(
        this.host.qemuImg,
        ['create', '-q', '-f', 'qcow2', '-F', format, '-b', image, this.files.disk],
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

  private freePort(): string | undefined {
    const used = new Set([...this.plugged.values()].map((p) => p.port));
    for (let n = 1; n <= this.profile.hotplugPorts; n++) if (!used.has(rootPortId(n))) return rootPortId(n);
    return undefined;
  }

  private async plug(kind: HotplugKind, timeoutMs = QMP_TIMEOUT_MS): Promise<HotplugHandle> {
    const port = this.freePort();
    if (!port) throw new Error(`no free hotplug root port (the profile has ${this.profile.hotplugPorts})`);
    const n = ++this.plugSeq;
    const p: Plugged = { kind, id: `hp-${kind}${n}`, port };
    this.plugged.set(p.id, p);
    try {
      if (kind === 'blk') {
        p.file = join(this.runDir, `scratch${n}.img`);
        writeFileSync(p.file, '');
        truncateSync(p.file, SCRATCH_BYTES); // sparse
        p.sectors = SCRATCH_BYTES / 512;
        p.node = `${p.id}-node`;
        await this.execute(
          'blockdev-add',
          { driver: 'raw', 'node-name': p.node, file: { driver: 'file', filename: p.file } },
          timeoutMs,
        );
        await this.execute(
          'device_add',
          { driver: 'virtio-blk-pci', id: p.id, drive: p.node, bus: port },
          timeoutMs,
        );
      } else {
        p.netdev = `${p.id}-netdev`;
        p.mac = `52:54:00:76:6d:${n.toString(16).padStart(2, '0')}`;
        await this.execute('netdev_add', { type: 'user', id: p.netdev }, timeoutMs);
        // No option ROM: the firmware has its own virtio-net driver and ipxe-qemu may be absent.
        await this.execute(
          'device_add',
          { driver: 'virtio-net-pci', id: p.id, netdev: p.netdev, mac: p.mac, bus: port, romfile: '' },
          timeoutMs,
        );
      }
    } catch (err) {
      await this.release(p, timeoutMs);
      throw err;
    }
    const { node: _n, netdev: _d, file: _f, ...handle } = p;
    return handle;
  }

  /** The root ports as `query-pci` shows them: what the guest's bus really holds. */
  private async ports(timeoutMs = QMP_TIMEOUT_MS): Promise<{ ports: HotplugPort[] }> {
    const buses = await this.execute<QueryPciBus[]>('query-pci', undefined, timeoutMs);
    const byId = new Map<string, string | null>();
    const visit = (devices: QueryPciDevice[]) => {
      for (const d of devices) {
        if (!d.pci_bridge) continue;
        const below = d.pci_bridge.devices ?? [];
        byId.set(d.qdev_id, below[0]?.qdev_id ?? null);
        visit(below);
      }
    };
    for (const bus of buses) visit(bus.devices);
    const ports: HotplugPort[] = [];
    for (let n = 1; n <= this.profile.hotplugPorts; n++) {
      const id = rootPortId(n);
      if (byId.has(id)) ports.push({ id, device: byId.get(id)! });
    }
    return { ports };
  }

  private async driverState(
    handle: HotplugHandle,
    timeoutMs = QMP_TIMEOUT_MS,
  ): Promise<{ ready: boolean; statuses: string[] }> {
    if (!this.plugged.has(handle.id)) throw new Error(`${handle.id} is not plugged in this session`);
    const reply = await this.execute<{ status: { statuses: string[] } }>(
      'x-query-virtio-status',
      { path: `/machine/peripheral/${handle.id}/virtio-backend` },
      timeoutMs,
    );
    const statuses = reply.status.statuses;
    return { ready: statuses.some((x) => x.startsWith('VIRTIO_CONFIG_S_DRIVER_OK')), statuses };
  }

  private async unplug(handle: HotplugHandle, timeoutMs = UNPLUG_TIMEOUT_MS): Promise<QmpEvent> {
    const p = this.plugged.get(handle.id);
    if (!p) throw new Error(`${handle.id} is not plugged in this session`);
    const since = this.qmpEvents.length;
    await this.execute('device_del', { id: p.id });
    const event = await this.waitForEvent('DEVICE_DELETED', {
      timeoutMs,
      since,
      where: (e) => e.data?.device === p.id,
      what: `QMP event DEVICE_DELETED for ${p.id} (the guest must release the device)`,
    });
    await this.release(p, QMP_TIMEOUT_MS);
    return event;
  }

  /** Drops the backend of a device that is gone (or was never added); best effort. */
  private async release(p: Plugged, timeoutMs: number): Promise<void> {
    this.plugged.delete(p.id);
    const quietly = (command: string, args: Record<string, unknown>) =>
      this.execute(command, args, timeoutMs).catch(() => undefined);
    if (p.node) await quietly('blockdev-del', { 'node-name': p.node });
    if (p.netdev) await quietly('netdev_del', { id: p.netdev });
    if (p.file) rmSync(p.file, { force: true });
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
      // A new QEMU process has none of the hot-added devices.
      for (const p of [...this.plugged.values()]) {
        this.plugged.delete(p.id);
        if (p.file) rmSync(p.file, { force: true });
      }
      await this.start(timeoutMs);
    } finally {
      this.cycling = false;
      this.waits.failGone();
    }
  }

  async variables(): Promise<{ file: string }> {
    return { file: this.files.vars };
  }

  async platform(): Promise<PlatformFacts> {
    const caps = await this.execute<QueryGicCapability[]>('query-gic-capabilities');
    // TCG emulates a GIC; KVM can only give the guest what the host's kernel offers.
    const usable = (c: QueryGicCapability) => (this.profile.accel === 'kvm' ? c.kernel : c.emulated);
    const available = caps
      .filter(usable)
      .map((c) => c.version)
      .filter((v): v is GicVersion => v === 2 || v === 3)
      .sort();
    const p = this.profile;
    return {
      driver: 'qemu',
      accel: p.accel,
      cpu: p.cpu,
      smp: p.smp,
      memoryMiB: p.memoryMiB,
      console: p.console,
      gic: { version: p.gic, available },
      // edk2's ArmVirtQemu installs the FDT as a configuration table only when QEMU gives no ACPI tables.
      description: { fdt: p.acpi === 'off', acpi: p.acpi === 'on' },
      hotplugPorts: p.hotplugPorts,
      evidence: {
        'query-gic-capabilities': caps,
        machine: `virt,gic-version=${p.gic},acpi=${p.acpi}`,
        accel: p.accel,
      },
    };
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

  /** Ends QEMU's whole process group: SIGTERM, then SIGKILL if it lingers. */
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
    if (await within(done, 3000)) return;
    signal('SIGKILL');
    await within(done, 10_000);
  }
}

interface QueryGicCapability {
  version: number;
  emulated: boolean;
  kernel: boolean;
}

interface QueryPciDevice {
  qdev_id: string;
  pci_bridge?: { devices?: QueryPciDevice[] };
}

interface QueryPciBus {
  devices: QueryPciDevice[];
}

/** True when `p` settled within `ms`. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]).finally(() => clearTimeout(timer));
}
