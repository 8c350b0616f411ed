import type { HostCommand, HostTransport } from '@vmfarm/host';
import type { ImageFormat } from '@vmfarm/protocol';
import {
  BootError,
  GuestConsole,
  HostCommandError,
  SessionClosedError,
  VmExitedError,
  Waits,
  type GicVersion,
  type InstanceVariables,
  type PlatformFacts,
  type VmSession,
  type VmState,
} from '@vmfarm/session';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { xenMac, xlConfig, type XlDomain } from './config';
import { XenHostCommands } from './host';
import { HOTPLUG_VDEVS, HOTPLUG_VIFS, XenHotplug } from './hotplug';
import { parseXlInfo, parseXlList, type XlDomainRow } from './parse';
import { bootsFirmware, type XenProfile } from './profile';

/** Host paths a session runs with, resolved from the profile's names against the probe. */
export interface XenHostFiles {
  kernel: string;
  ramdisk?: string;
  xenconsole: string;
}

/** Why a XEN_EFI domain has no variable store the farm could read (edk2's ArmVirtXen.dsc). */
export const XEN_EFI_NO_NVRAM =
  'XEN_EFI.fd (edk2 ArmVirtXen) emulates its UEFI variable store in memory (PcdEmuVariableNvModeEnable): nothing persists across a reset or a power cycle, and there is no store on the host';

/** xenconsole finds the console's pty in xenstore and opens it at once; output waits in the ring meanwhile. */
const CONSOLE_SETTLE_MS = 500;
/** How long a guest has to act on `xl reboot` (it restarts as a new domain). */
const RESET_MS = 120_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One Xen domain on a dom0 reached through a host transport: its xl config, its copy of the image and
 * its scratch disks live in a run directory on the host; its PV console is streamed by xenconsole.
 * The instance directory (on the agent) keeps console.log, xl.log and domain.cfg after close.
 */
export class XenSession implements VmSession {
  readonly console: GuestConsole;
  readonly hotplug: XenHotplug;
  /** The domain's name on the host (unique per instance). */
  readonly name = `vmfarm-${randomBytes(5).toString('hex')}`;
  readonly instanceDir: string;

  private readonly waits: Waits;
  private readonly xl: XenHostCommands;
  private readonly image: string;
  private runDir = '';
  private config = '';
  private domid = -1;
  private consoleCmd: HostCommand | null = null;
  private exit: string | null = null;
  private cycling = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    readonly profile: XenProfile,
    readonly transport: HostTransport,
    spec: { image: string; format: ImageFormat; instanceDir: string },
    private readonly files: XenHostFiles,
    private readonly gic: GicVersion | null,
  ) {
    if (spec.format !== 'raw')
      throw new BootError(
        `the xen target boots raw images only (xl has no ${spec.format} backend without QEMU)`,
      );
    this.waits = new Waits({ lastLines: () => this.console.lastLines(), gone: (a) => this.gone(a) });
    this.console = new GuestConsole(this.waits);
    this.xl = new XenHostCommands(transport, Date.now());
    this.image = resolve(spec.image);
    this.instanceDir = resolve(spec.instanceDir);
    mkdirSync(this.instanceDir, { recursive: true });
    this.hotplug = new XenHotplug(this.xl, {
      name: this.name,
      domid: () => this.domid,
      runDir: () => this.runDir,
      bridge: profile.bridge,
    });
  }

  /** The domain id while it runs (it changes when the domain restarts). */
  get domainId(): number {
    return this.domid;
  }

  /** The run directory on the host (tests check it is gone after close). */
  get hostDir(): string {
    return this.runDir;
  }

  /** The domain as xl config, written on first start. */
  describe(runDir: string): XlDomain {
    return {
      name: this.name,
      kernel: this.files.kernel,
      ramdisk: this.files.ramdisk,
      cmdline: this.profile.cmdline,
      memoryMiB: this.profile.memoryMiB,
      vcpus: this.profile.smp,
      disks: [{ vdev: 'xvda', target: `${runDir}/disk.img` }],
      vifs: [{ bridge: this.profile.bridge, mac: xenMac(randomBytes(3)) }],
    };
  }

  /**
   * First start: a run directory on the host, the image copied there (the guest writes to the copy),
   * the config. Every start: `xl create -p` (paused), the console attached, then `xl unpause`, so
   * that no early output is lost.
   */
  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1000, deadline - Date.now());
    if (!this.runDir) {
      this.runDir = await this.transport.mkdtemp('vmfarm-xen-');
      await this.transport.upload(this.image, `${this.runDir}/disk.img`);
      this.config = xlConfig(this.describe(this.runDir));
      await this.xl.writeFile(`${this.runDir}/domain.cfg`, this.config);
    }
    if (this.closed) throw new SessionClosedError('xl create');
    try {
      await this.xl.must('xl', ['create', '-p', `${this.runDir}/domain.cfg`], left());
      this.domid = Number((await this.xl.must('xl', ['domid', this.name], left())).trim());
    } catch (err) {
      throw err instanceof HostCommandError ? new BootError(err.message) : err;
    }
    this.exit = null;
    await this.attachConsole();
    await this.xl.must('xl', ['unpause', this.name], left());
  }

  private async attachConsole(): Promise<void> {
    const cmd = this.transport.spawn(this.files.xenconsole, [
      '--interactive',
      '--type',
      'pv',
      String(this.domid),
    ]);
    this.consoleCmd = cmd;
    const decoder = new StringDecoder('utf8');
    cmd.stdout.on('data', (b: Buffer) => this.console.append(decoder.write(b)));
    let stderr = '';
    cmd.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2048)));
    cmd.stdin.on('error', () => {}); // the console went away; its end is reported instead
    this.console.attach((text) => cmd.stdin.write(text));
    void cmd.exited.then((how) =>
      this.consoleEnded(cmd, `xenconsole ended (${how.code ?? how.signal}) ${stderr.trim()}`),
    );
    await cmd.pid.catch(() => {});
    await sleep(CONSOLE_SETTLE_MS);
  }

  /**
   * xenconsole ends when the domain does (or restarts, with a new id, after a guest reboot): follow
   * a restarted domain; otherwise the VM is gone.
   */
  private async consoleEnded(cmd: HostCommand, how: string): Promise<void> {
    if (cmd !== this.consoleCmd || this.closed || this.cycling) return;
    this.console.attach(null);
    let row: XlDomainRow | null;
    try {
      row = await this.row();
    } catch (err) {
      // The host itself went away (the transport failed): the farm's problem, said as such.
      this.exit = `cannot be reached: ${(err as Error).message} (${how.trim()})`;
      this.waits.failGone();
      return;
    }
    if (cmd !== this.consoleCmd || this.closed || this.cycling) return;
    if (row && row.id !== this.domid && !row.state.includes('dying')) {
      this.domid = row.id;
      await this.attachConsole().catch(() => {});
      return;
    }
    this.exit = row
      ? `left its console (${how.trim()}; xl list: ${row.state.join(',') || 'no state'})`
      : `is gone: xl list no longer shows ${this.name} (${how.trim()})`;
    this.waits.failGone();
  }

  private gone(awaited: string): Error | null {
    if (this.closed) return new SessionClosedError(awaited);
    if (this.exit !== null && !this.cycling)
      return new VmExitedError(
        awaited,
        this.exit,
        this.console.lastLines(),
        this.xl.log.slice(-3).join('\n'),
        'the Xen domain',
      );
    return null;
  }

  /** The domain's `xl list` row, or null when xl does not know it. */
  private async row(): Promise<XlDomainRow | null> {
    const r = await this.xl.run('xl', ['list', this.name], 30_000);
    if (r.code !== 0) return null;
    return parseXlList(r.stdout).find((d) => d.name === this.name) ?? null;
  }

  /**
   * `xl reboot`: the toolstack asks the guest to restart (PV control/shutdown) and on_reboot makes a
   * new domain of it. Xen on Arm has no reset a guest cannot refuse, so a guest that ignores the
   * request is reported (HostCommandError) rather than destroyed behind its back.
   */
  async reset(timeoutMs = RESET_MS): Promise<void> {
    if (this.closed) throw new SessionClosedError('reset');
    const before = this.domid;
    await this.xl.must('xl', ['reboot', this.name]);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.xl.run('xl', ['domid', this.name], 30_000);
      if (r.code === 0 && Number(r.stdout.trim()) !== before) return;
      await sleep(1000);
    }
    throw new HostCommandError(
      `xl reboot ${this.name}`,
      `the guest did not act on the reboot request within ${timeoutMs} ms (still domain ${before}); Xen on Arm has no reset the guest cannot refuse`,
    );
  }

  /** `xl destroy`, then the same config again: same disk copy; hot-added devices are gone. */
  async powerCycle(timeoutMs = 300_000): Promise<void> {
    if (this.closed) throw new SessionClosedError('power cycle');
    this.cycling = true;
    try {
      this.console.attach(null);
      await this.xl.run('xl', ['destroy', this.name], timeoutMs);
      await this.consoleCmd?.kill();
      await this.start(timeoutMs);
    } finally {
      this.cycling = false;
      this.waits.failGone();
    }
  }

  async variables(): Promise<InstanceVariables> {
    throw new HostCommandError('variables', XEN_EFI_NO_NVRAM);
  }

  async platform(): Promise<PlatformFacts> {
    const info = parseXlInfo(await this.xl.must('xl', ['info']));
    const list = await this.xl.must('xl', ['list', this.name]);
    const firmware = bootsFirmware(this.profile);
    return {
      driver: 'xen',
      accel: 'xen',
      cpu: 'host',
      smp: this.profile.smp,
      memoryMiB: this.profile.memoryMiB,
      console: 'xen-pv',
      // libxl gives an Arm domU the GIC the hardware has (gic_version "native").
      gic: { version: this.gic ?? 3, available: this.gic ? [this.gic] : [] },
      // Debian builds Xen without CONFIG_ACPI: a domU gets a device tree only.
      description: { fdt: true, acpi: false },
      hotplugPorts: HOTPLUG_VDEVS.length + HOTPLUG_VIFS,
      variableStore: firmware
        ? { persistent: false, why: XEN_EFI_NO_NVRAM }
        : {
            persistent: false,
            why: 'the kernel is booted directly: there is no UEFI firmware in the domain',
          },
      evidence: { 'xl info': info, 'xl list': list.trim(), config: this.config },
    };
  }

  async state(timeoutMs = 5000): Promise<VmState> {
    if (this.closed) return { running: false, why: 'the session is closed' };
    let row: XlDomainRow | null | 'late';
    let timer: NodeJS.Timeout | undefined;
    try {
      row = await Promise.race([
        this.row(),
        new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs))),
      ]);
    } catch (err) {
      return { running: false, why: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
    if (row === 'late') return { running: false, why: `xl list did not answer within ${timeoutMs} ms` };
    if (!row) return { running: false, why: `xl list does not know ${this.name}` };
    if (row.state.includes('crashed'))
      return { running: false, why: 'Xen reports the domain crashed (kept by on_crash=preserve)' };
    if (row.state.includes('paused')) return { running: false, why: 'Xen reports the domain paused' };
    if (row.state.includes('shutdown') || row.state.includes('dying'))
      return { running: false, why: `Xen reports the domain ${row.state.join(',')}` };
    return { running: true };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.waits.failGone();
    this.console.attach(null);
    try {
      if (this.domid >= 0 || this.runDir) await this.xl.run('xl', ['destroy', this.name], 60_000);
      await this.consoleCmd?.kill();
      if (this.runDir) await this.transport.remove(this.runDir);
    } catch (err) {
      this.xl.log.push(`close: ${(err as Error).message}`);
    }
    const artifacts: [string, string][] = [
      ['console.log', this.console.transcript()],
      ['xl.log', `${this.transport.url} ${this.name}\n${this.xl.log.join('\n')}\n`],
      ['domain.cfg', this.config],
    ];
    for (const [name, content] of artifacts) {
      try {
        writeFileSync(join(this.instanceDir, name), content);
      } catch {
        // the instance dir went away: nothing to keep
      }
    }
  }
}
