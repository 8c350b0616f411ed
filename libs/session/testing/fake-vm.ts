/**
 * A scripted stand-in for the agent's LiveVm and the VM-session API, for the live suites' tests:
 * no QEMU. Each session's console replays a recorded boot (fixtures/boot/reference-guest.log) with a
 * report built from the profile and the boot's overrides, and answers `vmfarm …` commands as the
 * reference guest does (fixtures/guest/README.md); hotplug, platform facts, the variable store, reset
 * and power cycle are scripted by the options.
 *
 * Time is virtual where the script decides it: once everything the guest will print has been printed,
 * an `expect` that cannot match fails at once with a SessionTimeoutError, as the real one would after
 * its timeout. Output is delivered asynchronously (setImmediate), never with timers.
 */
import type { QemuTargetProfile } from '@vmfarm/protocol';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SessionClosedError,
  SessionTimeoutError,
  TargetRefusedError,
  VmExitedError,
  type BootedVm,
  type ConsoleMatch,
  type ConsolePattern,
  type GicVersion,
  type HostEvent,
  type HotplugHandle,
  type HotplugKind,
  type HotplugPort,
  type LiveVm,
  type PlatformFacts,
  type SessionConsole,
  type VmOverrides,
  type VmSession,
  type VmState,
} from '../src';
import { toMatcher } from '../src/console';

/** What the reference guest reports (fixtures/guest/README.md): `key=value` lines of its last report block. */
export type GuestReport = Record<string, string>;

function parseReport(transcript: string): GuestReport {
  const begin = transcript.lastIndexOf('VMFARM-REPORT-BEGIN\n');
  const stop = transcript.indexOf('VMFARM-REPORT-END', begin);
  const report: GuestReport = {};
  for (const line of transcript.slice(begin, stop).split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) report[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return report;
}

const consoleLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean);

/** Consoles recorded from QEMU 7.2 + Debian's AAVMF (qemu-aarch64-tcg) on this farm's images. */
export const GOOD = readFileSync(join(__dirname, '../../testing/fixtures/reference-guest.log'), 'utf8');
/** Firmware, boot manager and GRUB: everything the recorded boot printed before the guest's report. */
export const PREAMBLE = GOOD.slice(0, GOOD.indexOf('VMFARM-REPORT-BEGIN'));
/** The recorded reference guest's report (aarch64, GICv3, FDT, PL011, one CPU, 1 GiB, 4 root ports). */
export const RECORDED_REPORT: GuestReport = parseReport(GOOD);
/** What a distribution's image prints after GRUB: no report, no command loop, a login prompt. */
export const DISTRO_TAIL =
  '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]\n' +
  'Welcome to Debian GNU/Linux 12 (bookworm)!\n\n' +
  'Debian GNU/Linux 12 debian ttyAMA0\n\ndebian login: ';

export const TEMPLATE = '/usr/share/AAVMF/AAVMF_VARS.fd';
/** Scratch disk size of a hot-added virtio-blk, in 512-byte sectors (differs from the boot disk's). */
export const SCRATCH_SECTORS = 131072;

/** A UEFI variable as the fake guest sets it and the fake firmware stores it. */
export interface StoredVariable {
  name: string;
  guid: string;
  attributes: number;
  data: Buffer;
}

/** The GUID of the UEFI global variables (BootOrder, PlatformLang, …). */
const EFI_GLOBAL_VARIABLE_GUID = '8BE4DF61-93CA-11D2-AA0D-00E098032B8C';

/** What edk2 writes on an instance's first boot, before any guest sets a variable. */
export const FIRMWARE_VARIABLES: readonly StoredVariable[] = [
  {
    name: 'PlatformLang',
    guid: EFI_GLOBAL_VARIABLE_GUID,
    attributes: 7,
    data: Buffer.from('en\0', 'latin1'),
  },
  { name: 'Timeout', guid: EFI_GLOBAL_VARIABLE_GUID, attributes: 7, data: Buffer.from([0, 0]) },
  { name: 'BootOrder', guid: EFI_GLOBAL_VARIABLE_GUID, attributes: 7, data: Buffer.from([1, 0, 0, 0]) },
  { name: 'MTC', guid: 'EB704011-1402-11D3-8E77-00A0C969723B', attributes: 7, data: Buffer.alloc(4, 1) },
];

/** Without a `store` option: one `name-guid attributes hex` line per variable (no firmware format). */
const listStore = (vars: readonly StoredVariable[]) =>
  Buffer.from(vars.map((v) => `${v.name}-${v.guid} ${v.attributes} ${v.data.toString('hex')}\n`).join(''));

// --- the console ---

class FakeConsole implements SessionConsole {
  private text = '';
  private cursor = 0;
  private pending = 0;
  private waiters: (() => boolean)[] = [];
  /** Set when the VM went away: what an expect fails with. */
  private gone?: (awaited: string) => Error;
  /** A frozen VM: nothing more arrives, yet waits run their real time out (nothing says it is over). */
  frozen = false;

  /** Output of the guest, delivered in a later turn of the event loop. */
  emit(chunk: string, then?: () => void): void {
    if (!chunk) return;
    this.pending++;
    setImmediate(() => {
      this.pending--;
      if (!this.gone) this.text += chunk.replace(/\r/g, '');
      then?.();
      this.check();
    });
  }

  stop(gone: (awaited: string) => Error): void {
    this.gone ??= gone;
    this.check();
  }

  private check(): void {
    this.waiters = this.waiters.filter((attempt) => !attempt());
  }

  expect(pattern: ConsolePattern, timeoutMs: number): Promise<ConsoleMatch> {
    const re = toMatcher(pattern);
    const awaited = `console ${String(re)}`;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const attempt = (): boolean => {
        const m = re.exec(this.text.slice(this.cursor));
        if (m) {
          const index = this.cursor + m.index;
          const end = index + m[0].length;
          this.cursor = end;
          const groups = Array.from({ length: m.length - 1 }, (_, i) => (m as ArrayLike<string>)[i + 1]);
          resolve({ text: m[0], groups, named: { ...m.groups }, index, end });
        } else if (this.gone) reject(this.gone(awaited));
        else if (this.frozen) {
          // Real time: the wait runs to its timeout, or until the session is closed.
          timer ??= setTimeout(() => {
            this.waiters = this.waiters.filter((w) => w !== attempt);
            reject(new SessionTimeoutError(awaited, timeoutMs, this.lastLines()));
          }, timeoutMs);
          return false;
        }
        // Nothing more will come: the timeout would run out (virtual time).
        else if (this.pending === 0) reject(new SessionTimeoutError(awaited, timeoutMs, this.lastLines()));
        else return false;
        clearTimeout(timer);
        return true;
      };
      if (!attempt()) this.waiters.push(attempt);
    });
  }

  /** Set by the session: what the guest does with typed text. */
  onInput: (text: string) => void = () => {};

  send(text: string): void {
    if (this.gone) throw new Error('the VM is not running: nothing reads the console');
    this.onInput(text);
  }

  transcript(): string {
    return this.text;
  }

  lastLines(): string[] {
    return consoleLines(this.text).slice(-5);
  }
}

// --- the VM ---

export type FakeGuest =
  /** The farm's reference guest: report, VMFARM-READY, command loop. */
  | 'reference'
  /** A distribution's image: firmware and kernel output, then a login prompt. */
  | 'distro'
  /** Firmware, boot manager and GRUB output, then nothing: a guest that never gets ready. */
  | 'hangs'
  /** A VM that prints nothing at all. */
  | 'silent'
  /** A VM whose process exits at once, before any output. */
  | 'exits'
  /** Firmware and GRUB output, then the VM process dies (lost): waits fail with VmExitedError. */
  | 'lost'
  /**
   * Firmware and GRUB output, then the VM stops (a SIGSTOPped QEMU): console waits run their real
   * time out, and host calls (platform, hotplug, reset, variables) never answer until close.
   */
  | 'frozen'
  /** The reference guest gets ready, then the VM stops as `frozen` does (a QEMU SIGSTOPped mid-suite). */
  | 'freezes'
  /**
   * Firmware and GRUB output, then the kernel panics (as Debian's kernel does without a root fs);
   * nothing follows, in real time (a wait that the panic does not end runs its timeout out).
   */
  | 'panics'
  /** The firmware refuses the loader (Secure Boot on an unsigned GRUB): Access Denied; real time after. */
  | 'denied';

/** What the kernel prints when it panics for want of a root file system (recorded from Debian 6.1). */
export const PANIC_TAIL =
  '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]\n' +
  '[    1.337000] VFS: Cannot open root device "" or unknown-block(0,0): error -6\n' +
  '[    1.337100] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n' +
  '[    1.337200] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-50-arm64 #1  Debian 6.1.158-1\n';

/** edk2 refusing an unsigned loader under Secure Boot, then starting its shell (AAVMF_VARS.ms.fd). */
export const DENIED_TAIL =
  'BdsDxe: loading Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)\n' +
  'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0): Access Denied\n' +
  'BdsDxe: No bootable option or device was found.\n' +
  'BdsDxe: Press any key to enter the Boot Manager Menu.\n';

export interface FakeVmOptions {
  profile: QemuTargetProfile;
  /** Where the variable store files go. */
  dir: string;
  /** What boots, for every boot alike or per instance (1, 2, …) and boot of it (1 = the start). */
  guest?: FakeGuest | ((at: { instance: number; boot: number }) => FakeGuest);
  /** Commands the reference guest reads but never answers. */
  mute?: readonly string[];
  /** The boot disk's size as the guest lists it (`vmfarm blk`), in 512-byte sectors. */
  bootDiskSectors?: number;
  /** Edits of the reference guest's report (each boot, each `vmfarm report`). */
  report?: (r: GuestReport, boot: { overrides: VmOverrides; n: number }) => GuestReport;
  /** The GIC versions this host can give a VM (query-gic-capabilities). */
  gicAvailable?: GicVersion[];
  /** Hotplug ports the VM's bus shows (default: the profile's). */
  hotplugPorts?: number;
  /** The device kinds the guest takes when hot-added (lists them, sets DRIVER_OK) and releases on removal. */
  guestTakes?: readonly HotplugKind[];
  /** How many `vmfarm blk|net` listings go by before the guest lists a hot-added device (pciehp's delay). */
  noticeAfter?: number;
  /** `volatile`: a power cycle starts again from the template (the variables are lost). */
  nvram?: 'persistent' | 'volatile';
  /** The driver refuses some boots before starting them, with this reason. */
  refuse?: (overrides: VmOverrides) => string | undefined;
  /**
   * How the instance's variable store file is written from its variables (default: a text listing).
   * Suites' tests pass an edk2 store builder, so that the store parser reads what a firmware writes.
   */
  store?: (variables: readonly StoredVariable[]) => Buffer;
}

interface Plugged {
  handle: HotplugHandle;
  /** The guest took the device (it will list it once `noticeAfter` listings went by). */
  taken: boolean;
  listings: number;
}

export class FakeSession implements VmSession {
  readonly console = new FakeConsole();
  closed = false;
  /** Boots of this instance: 1 after the start, one more per reboot, reset and power cycle. */
  boots = 0;
  /** What the guest was sent, one command per entry (without `vmfarm `). */
  readonly commands: string[] = [];
  /** Restarts asked of the host: `reset`, `power cycle`. */
  readonly restarts: string[] = [];
  private readonly nvram = new Map<string, StoredVariable>();
  private readonly plugged = new Map<string, Plugged>();
  private plugSeq = 0;
  private reports = 0;
  /** What runs now (since the last start, reboot, reset or power cycle). */
  guest: FakeGuest = 'reference';
  readonly storeFile: string;

  constructor(
    private readonly vm: FakeVm,
    readonly overrides: VmOverrides,
    readonly id: number,
  ) {
    this.storeFile = join(vm.options.dir, `vars-${id}.fd`);
    this.console.onInput = (text) => this.input(text);
    this.start();
  }

  private get o(): FakeVmOptions {
    return this.vm.options;
  }

  private start(): void {
    this.boots++;
    const { guest = 'reference' } = this.o;
    this.guest = typeof guest === 'function' ? guest({ instance: this.id, boot: this.boots }) : guest;
    const exited = (awaited: string) =>
      new VmExitedError(awaited, 'exited with status 1', this.console.lastLines(), '', 'QEMU');
    if (this.guest === 'exits') this.console.stop(exited);
    else if (this.guest === 'distro') this.console.emit(PREAMBLE + DISTRO_TAIL);
    else if (this.guest === 'hangs') this.console.emit(PREAMBLE);
    else if (this.guest === 'panics' || this.guest === 'denied') {
      this.console.emit(
        this.guest === 'panics'
          ? PREAMBLE + PANIC_TAIL
          : PREAMBLE.slice(0, PREAMBLE.indexOf('BdsDxe')) + DENIED_TAIL,
      );
      this.console.frozen = true;
    } else if (this.guest === 'freezes') this.console.emit(PREAMBLE + this.reportBlock() + 'VMFARM-READY\n');
    else if (this.guest === 'lost') this.console.emit(PREAMBLE, () => this.console.stop(exited));
    else if (this.guest === 'frozen') {
      this.console.emit(PREAMBLE);
      this.console.frozen = true;
    } else if (this.guest === 'reference')
      this.console.emit(PREAMBLE + this.reportBlock() + 'VMFARM-READY\n');
  }

  /** The reference guest's report for this boot of this instance. */
  report(): GuestReport {
    const { profile } = this.o;
    const acpi = (this.overrides.acpi ?? profile.acpi) === 'on';
    const consoleKind = this.overrides.console ?? profile.console;
    const aarch32 = profile.arch[0] === 'aarch32';
    this.reports++;
    const pci = [
      '0000:00:00.0@1b36:0008:060000',
      '0000:00:01.0@1af4:1001:010000',
      ...(consoleKind === 'virtio-console' ? ['0000:00:02.0@1af4:1003:078000'] : []),
      ...Array.from({ length: profile.hotplugPorts }, (_, n) => `0000:00:0${n + 3}.0@1b36:000c:060400`),
    ];
    const r: GuestReport = {
      ...RECORDED_REPORT,
      arch: aarch32 ? 'armv7l' : 'aarch64',
      kernel: aarch32 ? '6.1.0-50-armmp-lpae' : RECORDED_REPORT.kernel,
      gic: `v${this.overrides.gic ?? profile.gic}`,
      description: acpi ? 'acpi' : 'fdt',
      console: consoleKind === 'pl011' ? 'ttyAMA0,tty0' : 'hvc0,tty0',
      timer: 'arch_timer',
      timer_freq_mhz: '62.50',
      timer_counter: 'virt',
      clocksource: 'arch_sys_counter',
      // Grows with every report: the timer ticks.
      timer_irqs: String(900 + 250 * this.reports),
      cpus: String(profile.smp),
      mem_total_kb: String(Math.round(profile.memoryMiB * 1024 * 0.944)),
      pci: pci.join(','),
      efi_config_tables: acpi ? 'SMBIOS 3.0,MEMATTR,ACPI 2.0,MEMRESERVE' : 'SMBIOS 3.0,MEMATTR,MEMRESERVE',
      uptime_s: (3 + this.reports / 10).toFixed(2),
    };
    if (acpi) {
      delete r.fdt_compatible;
      r.acpi_tables = 'APIC,DBG2,DSDT,FACP,GTDT,IORT,MCFG,PPTT,SPCR';
    } else {
      r.fdt_compatible = 'linux,dummy-virt';
      r.timer_compatible = aarch32 ? 'arm,armv7-timer' : 'arm,armv8-timer';
    }
    return this.o.report ? this.o.report(r, { overrides: this.overrides, n: this.boots }) : r;
  }

  private reportBlock(): string {
    const lines = Object.entries(this.report()).map(([k, v]) => `${k}=${v}`);
    return ['VMFARM-REPORT-BEGIN', ...lines, 'VMFARM-REPORT-END', ''].join('\n');
  }

  /** A guest that `freezes` stops at the first thing asked of it once it is up. */
  private freezeNow(): void {
    if (this.guest !== 'freezes') return;
    this.guest = 'frozen';
    this.console.frozen = true;
  }

  private input(text: string): void {
    this.freezeNow();
    if (this.guest === 'frozen') return;
    this.console.emit(text); // the console echoes what is typed
    if (this.guest !== 'reference') return;
    for (const line of text.split('\n')) {
      const m = /^vmfarm (\S+)\s*(.*)$/.exec(line.trim());
      if (!m) continue;
      this.commands.push(`${m[1]}${m[2] ? ` ${m[2]}` : ''}`);
      if (!this.o.mute?.includes(m[1])) this.answer(m[1], m[2] ? m[2].split(/\s+/) : []);
    }
  }

  /** The hot-added devices of `kind` the guest lists now. */
  private listing(kind: HotplugKind): HotplugHandle[] {
    const out: HotplugHandle[] = [];
    for (const p of this.plugged.values()) {
      if (p.handle.kind !== kind || !p.taken) continue;
      if (p.listings++ >= (this.o.noticeAfter ?? 0)) out.push(p.handle);
    }
    return out;
  }

  private answer(name: string, args: string[]): void {
    const ok = (rest = '') => this.console.emit(`VMFARM-OK ${name}${rest ? ` ${rest}` : ''}\n`);
    const err = (rest: string) => this.console.emit(`VMFARM-ERR ${name} ${rest}\n`);
    const bdf = (h: HotplugHandle) => `0000:0${h.port.slice(-1)}:00.0`;
    switch (name) {
      case 'ping':
        return this.console.emit('VMFARM-OK pong\n');
      case 'blk': {
        const disks = this.listing('blk').map((h, n) => `vd${'bcdefgh'[n]}=${h.sectors}@${bdf(h)}`);
        return ok(
          [`n=${1 + disks.length}`, `vda=${this.o.bootDiskSectors ?? 266240}@0000:00:01.0`, ...disks].join(
            ' ',
          ),
        );
      }
      case 'net': {
        const nics = this.listing('net').map((h, n) => `eth${n}=${h.mac}@${bdf(h)}`);
        return ok([`n=${nics.length}`, ...nics].join(' '));
      }
      case 'report':
        this.console.emit(this.reportBlock());
        return ok();
      case 'setvar': {
        const [varName, guid, hex, attr = '00000007'] = args;
        if (!varName || !guid || !/^([0-9a-f]{2})+$/i.test(hex ?? '')) return err('bad-data');
        this.nvram.set(`${varName}/${guid.toUpperCase()}`, {
          name: varName,
          guid: guid.toUpperCase(),
          attributes: parseInt(attr, 16),
          data: Buffer.from(hex, 'hex'),
        });
        return ok();
      }
      case 'getvar': {
        const v = this.nvram.get(`${args[0]}/${(args[1] ?? '').toUpperCase()}`);
        if (!v) return err('not-found');
        return ok(`attributes=${v.attributes.toString(16).padStart(8, '0')} data=${v.data.toString('hex')}`);
      }
      case 'delvar':
        return this.nvram.delete(`${args[0]}/${(args[1] ?? '').toUpperCase()}`) ? ok() : err('not-found');
      case 'reboot':
        ok();
        return this.start();
      default:
        return this.console.emit(`VMFARM-ERR unknown-command ${name}\n`);
    }
  }

  /** A host call: refused once closed; a frozen VM never answers it (until close). */
  private async open(what: string): Promise<void> {
    if (this.closed) throw new SessionClosedError(what);
    this.freezeNow();
    if (this.guest === 'frozen')
      await new Promise<never>((_, reject) => this.onClose.push(() => reject(new SessionClosedError(what))));
  }

  private readonly onClose: (() => void)[] = [];

  readonly hotplug = {
    status: async (): Promise<{ ports: HotplugPort[] }> => {
      await this.open('query-pci');
      const n = this.o.hotplugPorts ?? this.o.profile.hotplugPorts;
      const ports = Array.from({ length: n }, (_, i) => `rp${i + 1}`);
      const on = (port: string) => [...this.plugged.values()].find((p) => p.handle.port === port);
      return { ports: ports.map((id) => ({ id, device: on(id)?.handle.id ?? null })) };
    },
    add: async ({ kind }: { kind: HotplugKind }): Promise<HotplugHandle> => {
      await this.open('device_add');
      const { ports } = await this.hotplug.status();
      const port = ports.find((p) => p.device === null);
      if (!port) throw new Error(`no free hotplug root port (the profile has ${ports.length})`);
      const n = ++this.plugSeq;
      const handle: HotplugHandle =
        kind === 'blk'
          ? { kind, id: `hp-blk${n}`, port: port.id, sectors: SCRATCH_SECTORS }
          : {
              kind,
              id: `hp-net${n}`,
              port: port.id,
              mac: `52:54:00:76:6d:${n.toString(16).padStart(2, '0')}`,
            };
      const taken = this.o.guestTakes?.includes(kind) ?? true;
      this.plugged.set(handle.id, { handle, taken, listings: 0 });
      return handle;
    },
    driver: async (handle: HotplugHandle): Promise<{ ready: boolean; statuses: string[] }> => {
      await this.open('x-query-virtio-status');
      const p = this.plugged.get(handle.id);
      if (!p) throw new Error(`${handle.id} is not plugged in this session`);
      const statuses = p.taken
        ? [
            'VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found',
            'VIRTIO_CONFIG_S_DRIVER: Guest OS compatible with device',
            'VIRTIO_CONFIG_S_FEATURES_OK: Feature negotiation complete',
            'VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready',
          ]
        : [];
      return { ready: p.taken, statuses };
    },
    remove: async (handle: HotplugHandle, timeoutMs = 30_000): Promise<HostEvent> => {
      await this.open('device_del');
      const p = this.plugged.get(handle.id);
      if (!p) throw new Error(`${handle.id} is not plugged in this session`);
      // A guest that never took the device does not answer the attention button (virtual time).
      if (!p.taken)
        throw new SessionTimeoutError(
          `QMP event DEVICE_DELETED for ${handle.id} (the guest must release the device)`,
          timeoutMs,
          this.console.lastLines(),
        );
      this.plugged.delete(handle.id);
      return {
        event: 'DEVICE_DELETED',
        data: { device: handle.id, path: `/machine/peripheral/${handle.id}` },
      };
    },
  };

  async reset(): Promise<void> {
    await this.open('system_reset');
    this.restarts.push('reset');
    this.start();
  }

  async powerCycle(): Promise<void> {
    await this.open('power cycle');
    this.restarts.push('power cycle');
    // A new VM process: no hot-added devices; a volatile implementation starts from the template again.
    this.plugged.clear();
    if (this.o.nvram === 'volatile') this.nvram.clear();
    this.start();
  }

  /** The instance's store as edk2 would have written it: the firmware's variables, then the guest's. */
  async variables(): Promise<{ file: string }> {
    await this.open('the variable store');
    const vars = [...FIRMWARE_VARIABLES, ...this.nvram.values()];
    writeFileSync(this.storeFile, (this.o.store ?? listStore)(vars));
    return { file: this.storeFile };
  }

  async platform(): Promise<PlatformFacts> {
    await this.open('query-gic-capabilities');
    const p = this.o.profile;
    const gic = this.overrides.gic ?? p.gic;
    const acpi = this.overrides.acpi ?? p.acpi;
    const available = this.o.gicAvailable ?? [2, 3];
    return {
      driver: 'fake',
      accel: p.accel,
      cpu: p.cpu,
      smp: p.smp,
      memoryMiB: p.memoryMiB,
      console: this.overrides.console ?? p.console,
      gic: { version: gic, available },
      description: { fdt: acpi === 'off', acpi: acpi === 'on' },
      hotplugPorts: this.o.hotplugPorts ?? p.hotplugPorts,
      evidence: {
        'query-gic-capabilities': [2, 3].map((version) => ({
          version,
          emulated: available.includes(version as GicVersion),
          kernel: false,
        })),
        machine: `virt,gic-version=${gic},acpi=${acpi}`,
        accel: p.accel,
      },
    };
  }

  async state(timeoutMs = 5000): Promise<VmState> {
    if (this.closed) return { running: false, why: 'the session was closed' };
    if (this.guest === 'frozen')
      return { running: false, why: `QEMU did not answer query-status within ${timeoutMs} ms: it is hung` };
    if (this.guest === 'exits' || this.guest === 'lost')
      return { running: false, why: 'QEMU exited with status 1' };
    return { running: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.vm.open--;
    this.console.stop((awaited) => new SessionClosedError(awaited));
    for (const release of this.onClose.splice(0)) release();
  }
}

/** The agent's `vm` capability over fake sessions: counts the instances and how many run at once. */
export class FakeVm implements LiveVm {
  readonly sessions: FakeSession[] = [];
  /** Boots asked for, refused ones included. */
  readonly asked: VmOverrides[] = [];
  open = 0;
  maxOpen = 0;

  constructor(readonly options: FakeVmOptions) {}

  async boot(overrides: VmOverrides = {}): Promise<BootedVm> {
    this.asked.push(overrides);
    const why = this.options.refuse?.(overrides);
    if (why) throw new TargetRefusedError(this.options.profile.id, [why]);
    const session = new FakeSession(this, overrides, this.sessions.length + 1);
    this.sessions.push(session);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    return {
      session,
      startedAt: Date.now(),
      variableStore: {
        pristine: true,
        template: TEMPLATE,
        detail: `a fresh copy of ${TEMPLATE} for instance ${session.id}`,
      },
    };
  }
}
