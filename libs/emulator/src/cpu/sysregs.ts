/**
 * The system-register table as data: encoding (op0, op1, CRn, CRm, op2) → name, lowest exception
 * level allowed to access it, reset value and, for registers backed by CPU state, accessors.
 * MRS/MSR look registers up here; an encoding not listed is UNDEFINED, except the ID register space
 * (op0 3, op1 0, CRn 0, CRm 1..7), which reads as zero at EL1 as the architecture reserves it.
 *
 * The ID registers advertise exactly what this CPU implements: AArch64 only at EL0/EL1 (no EL2/EL3,
 * no AArch32), FP and Advanced SIMD, CRC32 and LSE atomics, 4K/16K/64K granules, 48-bit PA, 16-bit
 * ASIDs, a GICv3 system-register interface when the machine has one, no PMU, no SVE/PAC/BTI/MTE.
 */
import type { Cpu } from './cpu';
import type { IccRegister } from './platform';
import { CNTFRQ } from './timer';

export interface SysRegDef {
  name: string;
  op0: number;
  op1: number;
  crn: number;
  crm: number;
  op2: number;
  /**
   * Lowest EL that may read it; 4: write-only. User mode reads ID registers at EL0 (modelling
   * Linux's emulation of them); in system mode EL0 reads of the op1 = 0 ID registers are UNDEFINED.
   */
  el: number;
  /** Lowest EL that may write it; undefined: read-only. */
  writeEl?: number;
  reset?: bigint;
  read?: (cpu: Cpu) => bigint;
  write?: (cpu: Cpu, v: bigint) => void;
  /** Hot registers: read into cpu.rlo/rhi and write from lo/hi halves, without BigInt. */
  readPair?: (cpu: Cpu) => void;
  writePair?: (cpu: Cpu, lo: number, hi: number) => void;
  /** Runs after a stored (accessor-less) value was written. */
  after?: (cpu: Cpu) => void;
  /** The register exists only when this holds (system mode, a GICv3...). */
  available?: (cpu: Cpu) => boolean;
  /** Index of the register's storage (its position in SYSREGS). */
  id: number;
}

export function sysRegKey(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

/** Keys of the registers the CPU itself reads and writes (exception entry, MMU). */
export const SYS = {
  SCTLR_EL1: sysRegKey(3, 0, 1, 0, 0),
  TTBR0_EL1: sysRegKey(3, 0, 2, 0, 0),
  TTBR1_EL1: sysRegKey(3, 0, 2, 0, 1),
  TCR_EL1: sysRegKey(3, 0, 2, 0, 2),
  SPSR_EL1: sysRegKey(3, 0, 4, 0, 0),
  ELR_EL1: sysRegKey(3, 0, 4, 0, 1),
  ESR_EL1: sysRegKey(3, 0, 5, 2, 0),
  FAR_EL1: sysRegKey(3, 0, 6, 0, 0),
  PAR_EL1: sysRegKey(3, 0, 7, 4, 0),
  MAIR_EL1: sysRegKey(3, 0, 10, 2, 0),
  VBAR_EL1: sysRegKey(3, 0, 12, 0, 0),
  CNTKCTL_EL1: sysRegKey(3, 0, 14, 1, 0),
  CSSELR_EL1: sysRegKey(3, 2, 0, 0, 0),
} as const;

/** User mode's counter (system mode reads the machine's clock through the generic timer). */
const USER_HZ = BigInt(CNTFRQ);
const start = process.hrtime.bigint();
const userCounter = (): bigint => ((process.hrtime.bigint() - start) * USER_HZ) / 1_000_000_000n;

const pair = (c: Cpu, lo: number, hi: number): void => {
  c.rlo = lo >>> 0;
  c.rhi = hi >>> 0;
};
const counter = (c: Cpu): void => {
  const n = c.timer !== null ? c.timer.ticks() : Number(userCounter());
  pair(c, n % 4294967296, Math.floor(n / 4294967296));
};
const system = (c: Cpu): boolean => c.timer !== null;
const gicv3 = (c: Cpu): boolean => c.config?.icc !== undefined;
const mmu = (c: Cpu): void => c.translationChanged();

/**
 * Caches as Cortex-A57 describes them (CLIDR: L1 I+D, L2 unified; CCSIDR by CSSELR), so set/way
 * loops in firmware terminate; the maintenance itself is a no-op on coherent host memory.
 */
const CCSIDR: Record<number, bigint> = {
  0: (255n << 13n) | (1n << 3n) | 2n, // L1 D: 32 KiB, 2 ways, 64-byte lines
  1: (255n << 13n) | (2n << 3n) | 2n, // L1 I: 48 KiB, 3 ways
  2: (2047n << 13n) | (15n << 3n) | 2n, // L2: 2 MiB, 16 ways
};

let nextId = 0;
const r = (
  name: string,
  op0: number,
  op1: number,
  crn: number,
  crm: number,
  op2: number,
  el: number,
  writeEl: number | undefined,
  extra: Partial<Omit<SysRegDef, 'id'>> = {},
): SysRegDef => ({ name, op0, op1, crn, crm, op2, el, writeEl, ...extra, id: nextId++ });

const icc = (name: IccRegister, crm: number, op2: number, access: 'rw' | 'r' | 'w', crn = 12): SysRegDef =>
  r(`ICC_${name}_EL1`, 3, 0, crn, crm, op2, access === 'w' ? 4 : 1, access === 'r' ? undefined : 1, {
    available: gicv3,
    read: (c) => c.config!.icc!.read(name),
    write: (c, v) => c.config!.icc!.write(name, v),
  });

const timer = (name: string, crm: number, which: 'phys' | 'virt'): SysRegDef[] => [
  r(`${name}_TVAL_EL0`, 3, 3, 14, crm, 0, 1, 1, {
    available: system,
    read: (c) => c.timer!.readTval(c.timer![which]),
    write: (c, v) => c.timer!.writeTval(c.timer![which], v),
  }),
  r(`${name}_CTL_EL0`, 3, 3, 14, crm, 1, 1, 1, {
    available: system,
    read: (c) => c.timer!.readCtl(c.timer![which]),
    write: (c, v) => c.timer!.writeCtl(c.timer![which], v),
  }),
  r(`${name}_CVAL_EL0`, 3, 3, 14, crm, 2, 1, 1, {
    available: system,
    read: (c) => c.timer![which].cval,
    write: (c, v) => c.timer!.writeCval(c.timer![which], v),
  }),
];

const debugPairs = (n: number): SysRegDef[] => [
  r(`DBGBVR${n}_EL1`, 2, 0, 0, n, 4, 1, 1),
  r(`DBGBCR${n}_EL1`, 2, 0, 0, n, 5, 1, 1),
  r(`DBGWVR${n}_EL1`, 2, 0, 0, n, 6, 1, 1),
  r(`DBGWCR${n}_EL1`, 2, 0, 0, n, 7, 1, 1),
];

export const SYSREGS: SysRegDef[] = [
  // PSTATE and FP control.
  r('NZCV', 3, 3, 4, 2, 0, 0, 0, {
    readPair: (c) => pair(c, c.nzcv >>> 0, 0),
    writePair: (c, lo) => (c.nzcv = lo & 0xf0000000),
  }),
  r('DAIF', 3, 3, 4, 2, 1, 1, 1, {
    readPair: (c) => pair(c, c.daif << 6, 0),
    writePair: (c, lo) => c.setDaif((lo >>> 6) & 0xf),
  }),
  r('FPCR', 3, 3, 4, 4, 0, 0, 0, {
    read: (c) => BigInt(c.fpcr >>> 0),
    write: (c, v) => (c.fpcr = Number(v & 0x07ff9f00n)),
  }),
  r('FPSR', 3, 3, 4, 4, 1, 0, 0, {
    read: (c) => BigInt(c.fpsr >>> 0),
    write: (c, v) => (c.fpsr = Number(v & 0xf800009fn)),
  }),
  r('SPSel', 3, 0, 4, 2, 0, 1, 1, {
    read: (c) => BigInt(c.spsel),
    write: (c, v) => c.setPstate(c.el, Number(v & 1n)),
  }),
  r('CurrentEL', 3, 0, 4, 2, 2, 1, undefined, { readPair: (c) => pair(c, c.el << 2, 0) }),
  r('SP_EL0', 3, 0, 4, 1, 0, 1, 1, {
    readPair: (c) => c.readSpEl0(),
    writePair: (c, lo, hi) => c.writeSpEl0(lo, hi),
  }),
  r('TPIDR_EL0', 3, 3, 13, 0, 2, 0, 0),
  r('TPIDRRO_EL0', 3, 3, 13, 0, 3, 0, 1),
  // Cache and ZVA geometry: 64-byte lines, PIPT I-cache, no IDC/DIC (IC IVAU drops decoded code).
  r('CTR_EL0', 3, 3, 0, 0, 1, 0, undefined, { reset: 0x8444c004n }),
  r('DCZID_EL0', 3, 3, 0, 0, 7, 0, undefined, { reset: 4n }),
  r('CLIDR_EL1', 3, 1, 0, 0, 1, 1, undefined, { reset: 0x0a200023n }),
  r('CCSIDR_EL1', 3, 1, 0, 0, 0, 1, undefined, {
    read: (c) => CCSIDR[Number(c.sys.get(SYS.CSSELR_EL1) & 0xfn)] ?? 0n,
  }),
  r('CSSELR_EL1', 3, 2, 0, 0, 0, 1, 1),
  r('AIDR_EL1', 3, 1, 0, 0, 7, 1, undefined, { reset: 0n }),
  // The generic timer.
  r('CNTFRQ_EL0', 3, 3, 14, 0, 0, 0, 1, { reset: USER_HZ }),
  r('CNTPCT_EL0', 3, 3, 14, 0, 1, 0, undefined, { readPair: counter }),
  r('CNTVCT_EL0', 3, 3, 14, 0, 2, 0, undefined, { readPair: counter }),
  ...timer('CNTP', 2, 'phys'),
  ...timer('CNTV', 3, 'virt'),
  r('CNTKCTL_EL1', 3, 0, 14, 1, 0, 1, 1),
  // Identification (Cortex-A57 r1p0 MIDR, as QEMU's -cpu cortex-a57; features as above).
  r('MIDR_EL1', 3, 0, 0, 0, 0, 0, undefined, { reset: 0x411fd070n }),
  r('MPIDR_EL1', 3, 0, 0, 0, 5, 1, undefined, {
    read: (c) => 0x80000000n | BigInt((c.config?.affinity ?? 0) & 0xffffff),
  }),
  r('REVIDR_EL1', 3, 0, 0, 0, 6, 0, undefined, { reset: 0n }),
  // EL0 and EL1, AArch64 only; FP and AdvSIMD without half precision; GIC system registers if GICv3.
  r('ID_AA64PFR0_EL1', 3, 0, 0, 4, 0, 0, undefined, {
    read: (c) => 0x11n | (gicv3(c) ? 1n << 24n : 0n),
  }),
  r('ID_AA64PFR1_EL1', 3, 0, 0, 4, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64ZFR0_EL1', 3, 0, 0, 4, 4, 0, undefined, { reset: 0n }),
  // Debug v8, 2 breakpoints, 2 watchpoints, 1 context comparator, no PMU, no trace.
  r('ID_AA64DFR0_EL1', 3, 0, 0, 5, 0, 0, undefined, { reset: 0x10101006n }),
  r('ID_AA64DFR1_EL1', 3, 0, 0, 5, 1, 0, undefined, { reset: 0n }),
  // CRC32, LSE atomics.
  r('ID_AA64ISAR0_EL1', 3, 0, 0, 6, 0, 0, undefined, { reset: 0x210000n }),
  r('ID_AA64ISAR1_EL1', 3, 0, 0, 6, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64ISAR2_EL1', 3, 0, 0, 6, 2, 0, undefined, { reset: 0n }),
  // PARange 48 bits, 16-bit ASIDs, TGran4 and TGran64 (value 0) and TGran16 (value 1) supported.
  r('ID_AA64MMFR0_EL1', 3, 0, 0, 7, 0, 0, undefined, { reset: 0x00100025n }),
  r('ID_AA64MMFR1_EL1', 3, 0, 0, 7, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64MMFR2_EL1', 3, 0, 0, 7, 2, 0, undefined, { reset: 0n }),
  // EL1 system control. SCTLR resets with the MMU and caches off (RES1 bits set).
  r('SCTLR_EL1', 3, 0, 1, 0, 0, 1, 1, { reset: 0x30d00800n, after: mmu }),
  r('ACTLR_EL1', 3, 0, 1, 0, 1, 1, 1),
  r('CPACR_EL1', 3, 0, 1, 0, 2, 1, 1),
  r('TTBR0_EL1', 3, 0, 2, 0, 0, 1, 1, { after: mmu }),
  r('TTBR1_EL1', 3, 0, 2, 0, 1, 1, 1, { after: mmu }),
  r('TCR_EL1', 3, 0, 2, 0, 2, 1, 1, { after: mmu }),
  r('SPSR_EL1', 3, 0, 4, 0, 0, 1, 1),
  r('ELR_EL1', 3, 0, 4, 0, 1, 1, 1),
  r('AFSR0_EL1', 3, 0, 5, 1, 0, 1, 1),
  r('AFSR1_EL1', 3, 0, 5, 1, 1, 1, 1),
  r('ESR_EL1', 3, 0, 5, 2, 0, 1, 1),
  r('FAR_EL1', 3, 0, 6, 0, 0, 1, 1),
  r('PAR_EL1', 3, 0, 7, 4, 0, 1, 1),
  r('MAIR_EL1', 3, 0, 10, 2, 0, 1, 1),
  r('AMAIR_EL1', 3, 0, 10, 3, 0, 1, 1),
  r('VBAR_EL1', 3, 0, 12, 0, 0, 1, 1),
  r('CONTEXTIDR_EL1', 3, 0, 13, 0, 1, 1, 1),
  r('TPIDR_EL1', 3, 0, 13, 0, 4, 1, 1),
  // Debug: the registers Linux's debug-monitors and hw_breakpoint reset (no debug events are raised).
  r('MDSCR_EL1', 2, 0, 0, 2, 2, 1, 1),
  r('MDCCINT_EL1', 2, 0, 0, 2, 0, 1, 1),
  r('MDRAR_EL1', 2, 0, 1, 0, 0, 1, undefined, { reset: 0n }),
  r('OSLAR_EL1', 2, 0, 1, 0, 4, 4, 1),
  r('OSLSR_EL1', 2, 0, 1, 1, 4, 1, undefined, { reset: 8n }),
  r('OSDLR_EL1', 2, 0, 1, 3, 4, 1, 1),
  r('DBGCLAIMSET_EL1', 2, 0, 7, 8, 6, 1, 1, { read: () => 0xffn, write: () => undefined }),
  r('DBGCLAIMCLR_EL1', 2, 0, 7, 9, 6, 1, 1, { read: () => 0n, write: () => undefined }),
  r('DBGAUTHSTATUS_EL1', 2, 0, 7, 14, 6, 1, undefined, { reset: 0n }),
  ...debugPairs(0),
  ...debugPairs(1),
  // GICv3 CPU interface (delegated to the machine's GIC).
  icc('PMR', 6, 0, 'rw', 4),
  icc('IAR0', 8, 0, 'r'),
  icc('EOIR0', 8, 1, 'w'),
  icc('HPPIR0', 8, 2, 'r'),
  icc('BPR0', 8, 3, 'rw'),
  icc('AP0R0', 8, 4, 'rw'),
  icc('AP0R1', 8, 5, 'rw'),
  icc('AP0R2', 8, 6, 'rw'),
  icc('AP0R3', 8, 7, 'rw'),
  icc('AP1R0', 9, 0, 'rw'),
  icc('AP1R1', 9, 1, 'rw'),
  icc('AP1R2', 9, 2, 'rw'),
  icc('AP1R3', 9, 3, 'rw'),
  icc('DIR', 11, 1, 'w'),
  icc('RPR', 11, 3, 'r'),
  icc('SGI1R', 11, 5, 'w'),
  icc('ASGI1R', 11, 6, 'w'),
  icc('SGI0R', 11, 7, 'w'),
  icc('IAR1', 12, 0, 'r'),
  icc('EOIR1', 12, 1, 'w'),
  icc('HPPIR1', 12, 2, 'r'),
  icc('BPR1', 12, 3, 'rw'),
  icc('CTLR', 12, 4, 'rw'),
  icc('SRE', 12, 5, 'rw'),
  icc('IGRPEN0', 12, 6, 'rw'),
  icc('IGRPEN1', 12, 7, 'rw'),
];

const byKey = new Map<number, SysRegDef>(
  SYSREGS.map((d) => [sysRegKey(d.op0, d.op1, d.crn, d.crm, d.op2), d]),
);

export function findSysReg(key: number): SysRegDef | undefined {
  return byKey.get(key);
}

/** The reserved ID register space (op0 3, op1 0, CRn 0, CRm 1..7): reads as zero at EL1. */
export function isIdSpace(key: number): boolean {
  return key >>> 7 === 0x180 && ((key >>> 3) & 15) !== 0;
}

/** Storage for table registers without accessors: two uint32 halves per register, by `id`. */
export class SysRegs {
  private readonly lo = new Uint32Array(SYSREGS.length);
  private readonly hi = new Uint32Array(SYSREGS.length);

  constructor() {
    this.clear();
  }

  read(cpu: Cpu, d: SysRegDef): bigint {
    if (d.readPair) {
      d.readPair(cpu);
      return (BigInt(cpu.rhi) << 32n) | BigInt(cpu.rlo);
    }
    if (d.read) return d.read(cpu);
    return (BigInt(this.hi[d.id]) << 32n) | BigInt(this.lo[d.id]);
  }

  write(cpu: Cpu, d: SysRegDef, v: bigint): void {
    this.writePair(cpu, d, Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
  }

  /** MRS: the value into cpu.rlo/rhi. */
  readPair(cpu: Cpu, d: SysRegDef): void {
    if (d.readPair) return d.readPair(cpu);
    if (d.read) {
      const v = d.read(cpu);
      cpu.rlo = Number(v & 0xffffffffn);
      cpu.rhi = Number((v >> 32n) & 0xffffffffn);
      return;
    }
    cpu.rlo = this.lo[d.id];
    cpu.rhi = this.hi[d.id];
  }

  /** MSR from two halves. */
  writePair(cpu: Cpu, d: SysRegDef, lo: number, hi: number): void {
    if (d.writePair) d.writePair(cpu, lo, hi);
    else if (d.write) d.write(cpu, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    else {
      this.lo[d.id] = lo;
      this.hi[d.id] = hi;
      d.after?.(cpu);
    }
  }

  /** The stored value of a register the CPU uses itself (SYS keys). */
  get(key: number): bigint {
    const id = byKey.get(key)!.id;
    return (BigInt(this.hi[id]) << 32n) | BigInt(this.lo[id]);
  }

  set(key: number, v: bigint): void {
    this.setPair(key, Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
  }

  /** Low and high halves of a stored register (exception entry and return). */
  low(key: number): number {
    return this.lo[byKey.get(key)!.id];
  }

  high(key: number): number {
    return this.hi[byKey.get(key)!.id];
  }

  setPair(key: number, lo: number, hi: number): void {
    const id = byKey.get(key)!.id;
    this.lo[id] = lo;
    this.hi[id] = hi;
  }

  /** Back to reset values. */
  clear(): void {
    for (const d of SYSREGS) {
      const v = d.reset ?? 0n;
      this.lo[d.id] = Number(v & 0xffffffffn);
      this.hi[d.id] = Number((v >> 32n) & 0xffffffffn);
    }
  }
}
