/**
 * Support for system-mode CPU tests: an assembler (the cross toolchain scripts/test-deps.sh
 * installs), a manual clock (guest time moves only when a test advances it), a PE on RAM at
 * 0x40000000 whose PSCI SYSTEM_OFF halts it, and a stage-1 table builder for any granule.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cpu, PagedMemory, SYSREGS, type SystemConfig } from '../src';
import type { Clock } from '../src/devices/device';
import { fixtures } from './fixtures';

export const RAM = 0x4000_0000;
export const PSCI_SYSTEM_OFF = 0x8400_0008n;

/** Assembles A64 source (GNU as syntax, preprocessed) linked at `base`; returns the raw image. */
export function assemble(src: string, base = RAM): Uint8Array {
  fixtures(); // installs the cross toolchain when missing
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-emu-asm-'));
  try {
    writeFileSync(join(dir, 'a.S'), `.text\n.globl _start\n_start:\n${src}\n`);
    const steps: [string, string[]][] = [
      [
        'aarch64-linux-gnu-gcc',
        [
          '-nostdlib',
          '-static',
          '-Wl,--build-id=none',
          `-Wl,-Ttext=0x${base.toString(16)}`,
          '-o',
          'a.elf',
          'a.S',
        ],
      ],
      ['aarch64-linux-gnu-objcopy', ['-O', 'binary', '-j', '.text', 'a.elf', 'a.bin']],
    ];
    for (const [cmd, args] of steps) {
      const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    }
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Guest time that moves only in `advance`, firing due events in order. */
export class ManualClock implements Clock {
  private now = 0;
  private events: { atNs: number; fn: () => void }[] = [];

  nowNs(): number {
    return this.now;
  }

  at(atNs: number, fn: () => void): () => void {
    const e = { atNs, fn };
    this.events.push(e);
    return () => (this.events = this.events.filter((x) => x !== e));
  }

  /** The earliest pending event's time, or Infinity. */
  next(): number {
    return Math.min(...this.events.map((e) => e.atNs));
  }

  advance(toNs: number): void {
    for (;;) {
      const due = this.events.filter((e) => e.atNs <= toNs).sort((a, b) => a.atNs - b.atNs)[0];
      if (due === undefined) break;
      this.now = Math.max(this.now, due.atNs);
      this.events = this.events.filter((x) => x !== due);
      due.fn();
    }
    this.now = Math.max(this.now, toNs);
  }
}

export interface System {
  cpu: Cpu;
  bus: PagedMemory;
  clock: ManualClock;
  timerLevels: [string, boolean][];
}

/** A PE at EL1 with 64 MiB of RAM at 0x40000000 holding `image`, PC at its start. */
export function system(image: Uint8Array, extra: Partial<SystemConfig> = {}): System {
  const bus = new PagedMemory();
  bus.mapRam(RAM, 64 << 20);
  bus.writeBytes(RAM, image);
  const clock = new ManualClock();
  const timerLevels: [string, boolean][] = [];
  const cpu = Cpu.system(bus, {
    clock,
    timerIrq: (t, level) => timerLevels.push([t, level]),
    firmware: {
      call: (c) => {
        if (c.getX(0) !== PSCI_SYSTEM_OFF) return false;
        c.halted = true;
        return true;
      },
    },
    ...extra,
  });
  cpu.pc = BigInt(RAM);
  return { cpu, bus, clock, timerLevels };
}

/** MSR from the test: writes a system register by name as the guest would. */
export function msr(cpu: Cpu, name: string, v: bigint): void {
  const d = SYSREGS.find((x) => x.name === name);
  if (d === undefined) throw new Error(name);
  cpu.sys.write(cpu, d, v);
}

export function mrs(cpu: Cpu, name: string): bigint {
  return cpu.sys.read(cpu, SYSREGS.find((x) => x.name === name)!);
}

/** Stage-1 tables for one granule (4K: 12, 16K: 14, 64K: 16) and input size, allocated from `pool`. */
export class Tables {
  readonly root: number;
  private nextTable: number;
  private readonly stride: number;
  private readonly start: number;

  constructor(
    private readonly bus: PagedMemory,
    private readonly g: number,
    private readonly inputsize: number,
    pool: number,
  ) {
    this.stride = g - 3;
    this.start = 4 - Math.ceil((inputsize - g) / this.stride);
    this.nextTable = pool;
    this.root = this.alloc();
  }

  /** TCR_EL1 fields for TTBR0 with this granule (IPS 48 bits). */
  tcr0(): bigint {
    const tg0 = { 12: 0, 14: 2, 16: 1 }[this.g]!;
    return (5n << 32n) | BigInt((tg0 << 14) | (64 - this.inputsize));
  }

  /** TCR_EL1 fields for TTBR1 with this granule. */
  tcr1(): bigint {
    const tg1 = { 12: 2, 14: 1, 16: 3 }[this.g]!;
    return BigInt((tg1 << 30) | ((64 - this.inputsize) << 16));
  }

  /**
   * Maps `va` (below 2^inputsize: the offset within the TTBR's range) to `pa` at `level`
   * (3: page, else block) with descriptor low bits `attrs` (AF, AP, ...) and high word `hiAttrs`.
   */
  map(va: number, pa: number, attrs = 0x400, level = 3, hiAttrs = 0): number {
    let table = this.root;
    for (let l = this.start; l < level; l++) {
      const at = table + this.index(va, l) * 8;
      let d = this.bus.r32(at);
      if ((d & 3) !== 3) {
        d = (this.alloc() | 3) >>> 0;
        this.bus.w32(at, d);
        this.bus.w32(at + 4, 0);
      }
      table = (d & ~(2 ** this.g - 1)) >>> 0;
    }
    const at = table + this.index(va, level) * 8;
    this.bus.w32(at, (pa | attrs | (level === 3 ? 3 : 1)) >>> 0);
    this.bus.w32(at + 4, hiAttrs);
    return at;
  }

  private index(va: number, level: number): number {
    const shift = this.g + (3 - level) * this.stride;
    const bits = level === this.start ? this.inputsize - shift : this.stride;
    return Math.floor(va / 2 ** shift) % 2 ** bits;
  }

  private alloc(): number {
    const t = this.nextTable;
    this.nextTable += 2 ** this.g;
    return t;
  }
}

/** Runs until the PE halts (PSCI SYSTEM_OFF) or waits; throws after `limit` instructions. */
export function runToHalt(cpu: Cpu, limit = 100_000): void {
  const stopAt = cpu.instructions + limit;
  while (!cpu.halted && !cpu.waiting) {
    cpu.run(1000);
    if (cpu.instructions > stopAt)
      throw new Error(`no halt after ${limit} instructions, pc 0x${cpu.pc.toString(16)}`);
  }
}
