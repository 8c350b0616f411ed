/**
 * QEMU 7.2's `virt,highmem=off` machine for one Cortex-A57-like PE, assembled from src/devices on
 * the CPU's physical bus: RAM at 0x4000_0000 with the generated FDT at its start (where QEMU puts it
 * for firmware), two CFI flash banks (AAVMF code read-only, the instance's variable store written
 * through to its file), PL011, PL031, PL061 (power button on line 3), fw_cfg, GICv2 (with its
 * GICv2m MSI frame) or GICv3, the generic timer's PPIs, PSCI over HVC, 32 virtio-mmio transports
 * (the disk, if any, on the last, 0x0a00_3e00, where QEMU puts the first `-device`) and the PCIe
 * ECAM with the host bridge's own function.
 *
 * `run` drives the PE in slices, fires guest-time events between slices and sleeps (real time) or
 * skips ahead (deterministic time) while the PE waits for an interrupt. `reset` is a warm reset
 * (PSCI SYSTEM_RESET), `powerCycle` rebuilds the machine from its files (the variable store
 * persists, the disk overlay too).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Cpu } from '../cpu/cpu';
import { PagedMemory } from '../cpu/memory';
import type { TimerId } from '../cpu/platform';
import type { BlockBackend } from '../devices/device';
import { FwCfg, FW_CFG_KEY } from '../devices/fw-cfg';
import { GicV2 } from '../devices/gic-v2';
import { GicV2m } from '../devices/gic-v2m';
import { GicV3 } from '../devices/gic-v3';
import { PcieHost } from '../devices/pcie-host';
import { Pflash } from '../devices/pflash';
import { Pl011 } from '../devices/pl011';
import { Pl031 } from '../devices/pl031';
import { Pl061 } from '../devices/pl061';
import { Psci } from '../devices/psci';
import { VirtioBlk } from '../devices/virtio-blk';
import { VirtioMmio } from '../devices/virtio-mmio';
import { MachineClock } from './clock';
import { serializeFdt } from './fdt';
import { buildVirtFdt } from './virt-fdt';
import { VIRT_MAP, VIRT_PPI, VIRT_SPI } from './virt-map';

export interface VirtMachineOptions {
  /** Guest RAM in MiB (default 1024, as the qemu-aarch64 profiles). */
  memoryMiB?: number;
  gicVersion?: 2 | 3;
  /** AAVMF_CODE.fd: flash bank 0, read-only. */
  firmwareCode: string;
  /** The instance's copy of AAVMF_VARS.fd: flash bank 1, changed in place. */
  firmwareVars: string;
  /** The disk on virtio-blk (a raw image behind a copy-on-write overlay, or any backend). */
  disk?: BlockBackend;
  /** Bytes the guest writes to the PL011. */
  onConsole?: (bytes: Uint8Array) => void;
  /**
   * `real`: guest time follows the host clock. `deterministic`: guest time is the instruction count
   * times `nsPerInstruction`, idle time skipped, fixed seeds and RTC start.
   */
  time?: 'real' | 'deterministic';
  /**
   * Deterministic mode's time per instruction (default 32 ns, QEMU's `icount shift=5`): about what an
   * instruction costs this emulator, so the firmware's busy-wait delays cost what they do in real mode.
   */
  nsPerInstruction?: number;
  /** QEMU's `-boot menu=on,splash-time=N`: the firmware's boot-menu wait in ms (absent: the firmware's default). */
  bootMenuWaitMs?: number;
}

export type RunResult = 'until' | 'off' | 'limit' | 'timeout';

const SLICE = 200_000;
const MIN_SLICE = 1_000;
const NUM_IRQS = 288;

/** What lives for one power-on: the CPU, the bus and every device. */
interface Board {
  cpu: Cpu;
  bus: PagedMemory;
  uart: Pl011;
  gpio: Pl061;
  gic: GicV2 | GicV3;
}

export class VirtMachine {
  readonly memoryBytes: number;
  readonly gicVersion: 2 | 3;
  /** Instructions executed since construction (across resets). */
  instructions = 0;
  poweredOff = false;
  private board!: Board;
  private clock!: MachineClock;
  private readonly code: Uint8Array;
  private vars!: Uint8Array;
  private varsFd = -1;
  private resetRequested = false;
  /** Real mode: measured host nanoseconds per guest instruction. */
  private nsPerInsn = 50;
  private hostStart = 0;
  /** Wakes a real-time idle sleep early (console input). */
  private wake: (() => void) | null = null;

  constructor(private readonly o: VirtMachineOptions) {
    this.memoryBytes = (o.memoryMiB ?? 1024) * 1024 * 1024;
    this.gicVersion = o.gicVersion ?? 3;
    this.code = padToPages(readFileSync(o.firmwareCode));
    this.powerOn();
  }

  get cpu(): Cpu {
    return this.board.cpu;
  }

  get bus(): PagedMemory {
    return this.board.bus;
  }

  /** Types `data` on the console. */
  input(data: Uint8Array | string): void {
    this.board.uart.input(data);
    this.wake?.();
  }

  /** Presses the power button (GPIO line 3 high for 100 ms of guest time, as QEMU's gpio-key). */
  powerButton(): void {
    this.board.gpio.setInput(3, true);
    const gpio = this.board.gpio;
    this.clock.at(this.clock.nowNs() + 100_000_000, () => gpio.setInput(3, false));
  }

  /** Warm reset (PSCI SYSTEM_RESET, QEMU's system_reset): the PE and every device to reset state, RAM cleared, flash kept. */
  reset(): void {
    this.build();
  }

  /** Power off and on: the flash banks are read again from their files. */
  powerCycle(): void {
    this.closeVars();
    this.powerOn();
  }

  /** Stops the machine and closes its files. */
  close(): void {
    this.poweredOff = true;
    this.closeVars();
  }

  private powerOn(): void {
    this.vars = padToPages(readFileSync(this.o.firmwareVars));
    this.varsFd = openSync(this.o.firmwareVars, 'r+');
    this.poweredOff = false;
    this.hostStart = performance.now();
    const deterministic = this.o.time === 'deterministic';
    this.clock = new MachineClock(
      deterministic
        ? () => this.instructions * (this.o.nsPerInstruction ?? 32)
        : () => (performance.now() - this.hostStart) * 1e6,
    );
    this.build();
  }

  private closeVars(): void {
    if (this.varsFd >= 0) closeSync(this.varsFd);
    this.varsFd = -1;
  }

  private build(): void {
    const m = VIRT_MAP;
    const deterministic = this.o.time === 'deterministic';
    this.clock.clear();
    this.resetRequested = false;
    const bus = new PagedMemory();
    const dma = bus.dma();
    let cpu: Cpu | null = null;
    const outputs = [
      { irq: { set: (l: boolean) => cpu?.irq.set(l) }, fiq: { set: (l: boolean) => cpu?.fiq.set(l) } },
    ];
    const gic =
      this.gicVersion === 3 ? new GicV3({ irqs: NUM_IRQS, outputs }) : new GicV2({ irqs: NUM_IRQS, outputs });
    const spi = (n: number) => gic.line(32 + n);

    bus.mapRam(m.ram.base, this.memoryBytes);
    const seed = deterministic ? new Uint8Array(40).map((_, i) => (i * 37 + 11) & 0xff) : randomBytes(40);
    const fdt = serializeFdt(buildVirtFdt({ ramSize: this.memoryBytes, gicVersion: this.gicVersion, seed }));
    bus.writeBytes(m.ram.base, fdt);

    const bank = m.flash.size / 2;
    const code = new Pflash({ data: this.code, readOnly: true, romMode: (on) => codeRegion.setRomMode(on) });
    const codeRegion = bus.addRomDevice(
      m.flash.base,
      this.code.subarray(0, Math.min(this.code.length, bank)),
      code,
    );
    const fd = this.varsFd;
    const vars = new Pflash({
      data: this.vars,
      readOnly: false,
      persist: (offset, bytes) => writeSync(fd, bytes, 0, bytes.length, offset),
      romMode: (on) => varsRegion.setRomMode(on),
    });
    const varsRegion = bus.addRomDevice(
      m.flash.base + bank,
      this.vars.subarray(0, Math.min(this.vars.length, bank)),
      vars,
    );

    if (gic instanceof GicV3) {
      bus.addMmio(m.gicDist.base, m.gicDist.size, gic.distributor);
      bus.addMmio(m.gicRedist.base, m.gicRedist.size, gic.redistributors);
    } else {
      bus.addMmio(m.gicDist.base, m.gicDist.size, gic.distributor);
      bus.addMmio(m.gicCpu.base, m.gicCpu.size, gic.cpuInterface);
      const v2m = new GicV2m({ firstSpi: VIRT_SPI.gicV2m, spis: 64, line: (intid) => gic.line(intid) });
      bus.addMmio(m.gicV2m.base, m.gicV2m.size, v2m);
    }
    const uart = new Pl011({ irq: spi(VIRT_SPI.uart), onTx: (b) => this.o.onConsole?.(Uint8Array.of(b)) });
    bus.addMmio(m.uart.base, m.uart.size, uart);
    const startSeconds = deterministic ? 1_700_000_000 : Math.floor(Date.now() / 1000);
    bus.addMmio(
      m.rtc.base,
      m.rtc.size,
      new Pl031({ irq: spi(VIRT_SPI.rtc), clock: this.clock, startSeconds }),
    );
    const gpio = new Pl061(spi(VIRT_SPI.gpio));
    bus.addMmio(m.gpio.base, m.gpio.size, gpio);

    const fwCfg = new FwCfg(dma);
    fwCfg.addU16(FW_CFG_KEY.nographic, 1);
    fwCfg.addU16(FW_CFG_KEY.nbCpus, 1);
    fwCfg.addU16(FW_CFG_KEY.bootMenu, this.o.bootMenuWaitMs === undefined ? 0 : 1);
    if (this.o.bootMenuWaitMs !== undefined) {
      fwCfg.addFile('etc/boot-menu-wait', u16(this.o.bootMenuWaitMs));
    }
    bus.addMmio(m.fwCfg.base, m.fwCfg.size, fwCfg);

    for (let i = 0; i < 32; i++) {
      const t = new VirtioMmio({ dma, irq: spi(VIRT_SPI.virtioMmio + i) });
      if (i === 31 && this.o.disk !== undefined) t.attach(new VirtioBlk(this.o.disk, dma));
      bus.addMmio(m.virtioMmio.base + i * m.virtioMmio.size, m.virtioMmio.size, t);
    }
    bus.addMmio(m.pcieEcam.base, m.pcieEcam.size, new PcieHost());

    const psci = new Psci({
      conduit: 'hvc',
      systemOff: () => {
        this.poweredOff = true;
        if (cpu !== null) cpu.stop = true;
      },
      systemReset: () => {
        this.resetRequested = true;
        if (cpu !== null) cpu.stop = true;
      },
    });
    const ppi = (n: number) => gic.line(16 + n);
    const timerLines: Record<TimerId, ReturnType<typeof ppi>> = {
      phys: ppi(VIRT_PPI.physTimer),
      virt: ppi(VIRT_PPI.virtTimer),
    };
    cpu = Cpu.system(bus, {
      clock: this.clock,
      timerIrq: (t, level) => timerLines[t].set(level),
      icc: gic instanceof GicV3 ? gic.icc(0) : undefined,
      firmware: psci,
    });
    this.board = { cpu, bus, uart, gpio, gic };
  }

  /**
   * Runs until `until()` holds (checked between slices), the guest powers off, `maxInstructions`
   * have run or `timeoutMs` of host time passed. Yields to the event loop between slices.
   */
  async run(
    opts: { until?: () => boolean; maxInstructions?: number; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const deadline = opts.timeoutMs === undefined ? Infinity : performance.now() + opts.timeoutMs;
    const limit = opts.maxInstructions ?? Infinity;
    let sliceStart = performance.now();
    const start = this.instructions;
    for (;;) {
      if (this.poweredOff) return 'off';
      if (opts.until?.()) return 'until';
      if (this.instructions - start >= limit) return 'limit';
      if (performance.now() >= deadline) return 'timeout';
      this.step(Math.min(this.sliceToNextEvent(), limit - (this.instructions - start)));
      if (this.board.cpu.waiting && !this.poweredOff) await this.idle(deadline);
      // Let timers, I/O and the caller's callbacks run about every 20 ms.
      if (performance.now() - sliceStart > 20) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
  }

  /**
   * Instructions to run before the next timer deadline, so a timer interrupt comes about when it is
   * due rather than at the end of a long slice (a guest waiting N jiffies would wait N slices).
   */
  private sliceToNextEvent(): number {
    const next = Math.min(this.clock.nextDeadline(), this.board.cpu.wakeAtNs);
    if (next === Infinity) return SLICE;
    const perInsn = this.o.time === 'deterministic' ? (this.o.nsPerInstruction ?? 32) : this.nsPerInsn;
    return Math.max(MIN_SLICE, Math.min(SLICE, Math.ceil((next - this.clock.nowNs()) / perInsn)));
  }

  /** Runs up to `n` instructions synchronously, with the events due between them. */
  step(n: number): number {
    const cpu = this.board.cpu;
    const t0 = performance.now();
    const ran = cpu.run(n);
    // Host time per instruction, smoothed: real mode's estimate of how far a slice reaches.
    if (ran >= MIN_SLICE)
      this.nsPerInsn = 0.8 * this.nsPerInsn + (0.2 * (performance.now() - t0) * 1e6) / ran;
    this.instructions += ran;
    this.clock.runDue();
    if (this.resetRequested) this.reset();
    return ran;
  }

  /** The PE waits for an interrupt: skip (deterministic) or sleep (real) to the next event. */
  private async idle(deadline: number): Promise<void> {
    // A WFE wakes at the event stream's next tick even with no timer due.
    const next = Math.min(this.clock.nextDeadline(), this.board.cpu.wakeAtNs);
    if (this.o.time === 'deterministic') {
      if (next === Infinity) {
        // Nothing will ever wake it but console input.
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, Math.max(0, Math.min(100, deadline - performance.now())));
        });
        this.wake = null;
      } else this.clock.skipTo(next);
      return;
    }
    const waitMs = Math.max(0, Math.min((next - this.clock.nowNs()) / 1e6, 50, deadline - performance.now()));
    await new Promise<void>((r) => {
      this.wake = r;
      setTimeout(r, waitMs);
    });
    this.wake = null;
    this.clock.runDue();
  }
}

function u16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}

/** The file's bytes in a buffer of whole 64 KiB pages (the bus maps flash by page), padded with erased flash. */
function padToPages(b: Buffer): Uint8Array {
  const size = Math.ceil(b.length / 65536) * 65536;
  const out = new Uint8Array(size).fill(0xff);
  out.set(b);
  return out;
}
