/**
 * The system-register table as data: encoding (op0, op1, CRn, CRm, op2) → name, lowest exception
 * level allowed to access it, reset value and, for registers backed by CPU state, accessors.
 * MRS/MSR look registers up here; an encoding not listed is UNDEFINED.
 */
import type { Cpu } from './cpu';

export interface SysRegDef {
  name: string;
  op0: number;
  op1: number;
  crn: number;
  crm: number;
  op2: number;
  /** Lowest EL that may read it (EL0 reads of ID registers model Linux's emulation of them). */
  el: number;
  /** Lowest EL that may write it; undefined: read-only. */
  writeEl?: number;
  reset?: bigint;
  read?: (cpu: Cpu) => bigint;
  write?: (cpu: Cpu, v: bigint) => void;
}

export function sysRegKey(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

const TIMER_HZ = 62_500_000n;
const start = process.hrtime.bigint();
const counter = (): bigint => ((process.hrtime.bigint() - start) * TIMER_HZ) / 1_000_000_000n;

const r = (
  name: string,
  op0: number,
  op1: number,
  crn: number,
  crm: number,
  op2: number,
  el: number,
  writeEl: number | undefined,
  extra: Partial<SysRegDef> = {},
): SysRegDef => ({ name, op0, op1, crn, crm, op2, el, writeEl, ...extra });

export const SYSREGS: SysRegDef[] = [
  // PSTATE and FP control, EL0.
  r('NZCV', 3, 3, 4, 2, 0, 0, 0, {
    read: (c) => BigInt(c.nzcv >>> 0),
    write: (c, v) => (c.nzcv = Number(v & 0xf0000000n)),
  }),
  r('DAIF', 3, 3, 4, 2, 1, 1, 1, {
    read: (c) => BigInt(c.daif << 6),
    write: (c, v) => (c.daif = Number((v >> 6n) & 0xfn)),
  }),
  r('FPCR', 3, 3, 4, 4, 0, 0, 0, {
    read: (c) => BigInt(c.fpcr >>> 0),
    write: (c, v) => (c.fpcr = Number(v & 0x07ff9f00n)),
  }),
  r('FPSR', 3, 3, 4, 4, 1, 0, 0, {
    read: (c) => BigInt(c.fpsr >>> 0),
    write: (c, v) => (c.fpsr = Number(v & 0xf800009fn)),
  }),
  r('TPIDR_EL0', 3, 3, 13, 0, 2, 0, 0),
  r('TPIDRRO_EL0', 3, 3, 13, 0, 3, 0, 1),
  r('CTR_EL0', 3, 3, 0, 0, 1, 0, undefined, { reset: 0x8444c004n }),
  // DC ZVA block size 64 bytes (BS = log2(16 words)).
  r('DCZID_EL0', 3, 3, 0, 0, 7, 0, undefined, { reset: 4n }),
  r('CNTFRQ_EL0', 3, 3, 14, 0, 0, 0, 1, { reset: TIMER_HZ }),
  r('CNTPCT_EL0', 3, 3, 14, 0, 1, 0, undefined, { read: counter }),
  r('CNTVCT_EL0', 3, 3, 14, 0, 2, 0, undefined, { read: counter }),
  r('CNTP_TVAL_EL0', 3, 3, 14, 2, 0, 1, 1),
  r('CNTP_CTL_EL0', 3, 3, 14, 2, 1, 1, 1),
  r('CNTP_CVAL_EL0', 3, 3, 14, 2, 2, 1, 1),
  r('CNTV_TVAL_EL0', 3, 3, 14, 3, 0, 1, 1),
  r('CNTV_CTL_EL0', 3, 3, 14, 3, 1, 1, 1),
  r('CNTV_CVAL_EL0', 3, 3, 14, 3, 2, 1, 1),
  // Identification (Cortex-A57-like, plus LSE atomics and CRC32).
  r('MIDR_EL1', 3, 0, 0, 0, 0, 0, undefined, { reset: 0x411fd070n }),
  r('MPIDR_EL1', 3, 0, 0, 0, 5, 1, undefined, { reset: 0x80000000n }),
  r('REVIDR_EL1', 3, 0, 0, 0, 6, 0, undefined, { reset: 0n }),
  r('ID_AA64PFR0_EL1', 3, 0, 0, 4, 0, 0, undefined, { reset: 0x01000111n }),
  r('ID_AA64PFR1_EL1', 3, 0, 0, 4, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64ZFR0_EL1', 3, 0, 0, 4, 4, 0, undefined, { reset: 0n }),
  r('ID_AA64DFR0_EL1', 3, 0, 0, 5, 0, 0, undefined, { reset: 0x10305106n }),
  r('ID_AA64DFR1_EL1', 3, 0, 0, 5, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64ISAR0_EL1', 3, 0, 0, 6, 0, 0, undefined, { reset: 0x210000n }),
  r('ID_AA64ISAR1_EL1', 3, 0, 0, 6, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64ISAR2_EL1', 3, 0, 0, 6, 2, 0, undefined, { reset: 0n }),
  r('ID_AA64MMFR0_EL1', 3, 0, 0, 7, 0, 0, undefined, { reset: 0x00001124n }),
  r('ID_AA64MMFR1_EL1', 3, 0, 0, 7, 1, 0, undefined, { reset: 0n }),
  r('ID_AA64MMFR2_EL1', 3, 0, 0, 7, 2, 0, undefined, { reset: 0n }),
  // EL1 system control (used by the system emulator's MMU and exception entry).
  r('SCTLR_EL1', 3, 0, 1, 0, 0, 1, 1, { reset: 0x30d00800n }),
  r('ACTLR_EL1', 3, 0, 1, 0, 1, 1, 1),
  r('CPACR_EL1', 3, 0, 1, 0, 2, 1, 1),
  r('TTBR0_EL1', 3, 0, 2, 0, 0, 1, 1),
  r('TTBR1_EL1', 3, 0, 2, 0, 1, 1, 1),
  r('TCR_EL1', 3, 0, 2, 0, 2, 1, 1),
  r('SPSR_EL1', 3, 0, 4, 0, 0, 1, 1),
  r('ELR_EL1', 3, 0, 4, 0, 1, 1, 1),
  r('SP_EL0', 3, 0, 4, 1, 0, 1, 1),
  r('SPSel', 3, 0, 4, 2, 0, 1, 1, {
    read: (c) => BigInt(c.spsel),
    write: (c, v) => (c.spsel = Number(v & 1n)),
  }),
  r('CurrentEL', 3, 0, 4, 2, 2, 1, undefined, { read: (c) => BigInt(c.el << 2) }),
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
  r('CNTKCTL_EL1', 3, 0, 14, 1, 0, 1, 1),
  r('MDSCR_EL1', 2, 0, 0, 2, 2, 1, 1),
  r('OSLAR_EL1', 2, 0, 1, 0, 4, 1, 1),
  r('OSDLR_EL1', 2, 0, 1, 3, 4, 1, 1),
  // EL2 registers Linux probes (reads only matter when entered at EL2).
  r('HCR_EL2', 3, 4, 1, 1, 0, 2, 2),
  r('VPIDR_EL2', 3, 4, 0, 0, 0, 2, 2),
  r('VMPIDR_EL2', 3, 4, 0, 0, 5, 2, 2),
  r('CNTHCTL_EL2', 3, 4, 14, 1, 0, 2, 2),
  r('CNTVOFF_EL2', 3, 4, 14, 0, 3, 2, 2),
];

const byKey = new Map<number, SysRegDef>(
  SYSREGS.map((d) => [sysRegKey(d.op0, d.op1, d.crn, d.crm, d.op2), d]),
);

export function findSysReg(key: number): SysRegDef | undefined {
  return byKey.get(key);
}

/** Storage for table registers without accessors. */
export class SysRegs {
  private readonly values = new Map<number, bigint>();

  read(cpu: Cpu, d: SysRegDef, key: number): bigint {
    if (d.read) return d.read(cpu);
    return this.values.get(key) ?? d.reset ?? 0n;
  }

  write(cpu: Cpu, d: SysRegDef, key: number, v: bigint): void {
    if (d.write) d.write(cpu, v);
    else this.values.set(key, v);
  }
}
