/**
 * PSCI 1.0 as QEMU answers it itself for a `virt` machine without EL2/EL3 (target/arm/psci.c),
 * over the conduit the FDT names (HVC). One PE: CPU_ON of PE 0 is ALREADY_ON, of any other PE
 * INVALID_PARAMETERS; SYSTEM_OFF and SYSTEM_RESET go to the machine; CPU_OFF of the only PE powers
 * the machine off, as nothing could wake it.
 */

/** The part of the CPU a firmware call touches: X0..X3 in and X0 out. */
export interface CallRegisters {
  getX(n: number): bigint;
  setX(n: number, v: bigint): void;
}

export interface PsciOptions {
  conduit: 'hvc' | 'smc';
  systemOff(): void;
  systemReset(): void;
}

export const PSCI = {
  VERSION: 0x8400_0000,
  CPU_SUSPEND: 0x8400_0001,
  CPU_OFF: 0x8400_0002,
  CPU_ON: 0x8400_0003,
  AFFINITY_INFO: 0x8400_0004,
  MIGRATE: 0x8400_0005,
  MIGRATE_INFO_TYPE: 0x8400_0006,
  MIGRATE_INFO_UP_CPU: 0x8400_0007,
  SYSTEM_OFF: 0x8400_0008,
  SYSTEM_RESET: 0x8400_0009,
  FEATURES: 0x8400_000a,
} as const;

const SUCCESS = 0;
const NOT_SUPPORTED = -1;
const INVALID_PARAMETERS = -2;
const ALREADY_ON = -4;
const SMC64 = 0x4000_0000;

export class Psci {
  constructor(private readonly o: PsciOptions) {}

  /** Handles HVC/SMC #imm; false when it is not a PSCI call on this conduit (the instruction is then UNDEFINED). */
  call(regs: CallRegisters, conduit: 'hvc' | 'smc', imm: number): boolean {
    if (conduit !== this.o.conduit || imm !== 0) return false;
    const fn = Number(regs.getX(0) & 0xffff_ffffn);
    // SMC64 variants share the SMC32 numbers with bit 30 set.
    const base = (fn & ~SMC64) >>> 0;
    if ((base & 0xffff_ffe0) >>> 0 !== 0x8400_0000) return false;
    const is64 = (fn & SMC64) !== 0;
    const arg = (n: number) => (is64 ? regs.getX(n) : regs.getX(n) & 0xffff_ffffn);
    let ret: number;
    switch (base) {
      case PSCI.VERSION:
        ret = 0x0001_0000;
        break;
      case PSCI.MIGRATE_INFO_TYPE:
        ret = 2; // no trusted OS that needs migrating
        break;
      case PSCI.CPU_ON:
        ret = (arg(1) & 0xff_00ff_ffffn) === 0n ? ALREADY_ON : INVALID_PARAMETERS;
        break;
      case PSCI.AFFINITY_INFO:
        ret = (arg(1) & 0xff_00ff_ffffn) === 0n && arg(2) === 0n ? 0 : INVALID_PARAMETERS;
        break;
      case PSCI.CPU_SUSPEND:
        // A power-down or standby state wakes on the next interrupt; the caller resumes after the HVC.
        ret = SUCCESS;
        break;
      case PSCI.CPU_OFF:
      case PSCI.SYSTEM_OFF:
        this.o.systemOff();
        ret = SUCCESS;
        break;
      case PSCI.SYSTEM_RESET:
        this.o.systemReset();
        ret = SUCCESS;
        break;
      case PSCI.FEATURES: {
        const q = Number(regs.getX(1) & 0xffff_ffffn);
        const qb = (q & ~SMC64) >>> 0;
        const known = [
          PSCI.VERSION,
          PSCI.CPU_SUSPEND,
          PSCI.CPU_OFF,
          PSCI.CPU_ON,
          PSCI.AFFINITY_INFO,
          PSCI.MIGRATE_INFO_TYPE,
          PSCI.SYSTEM_OFF,
          PSCI.SYSTEM_RESET,
          PSCI.FEATURES,
        ] as number[];
        const sixtyFourOk = qb === PSCI.CPU_SUSPEND || qb === PSCI.CPU_ON || qb === PSCI.AFFINITY_INFO;
        ret = known.includes(qb) && ((q & SMC64) === 0 || sixtyFourOk) ? SUCCESS : NOT_SUPPORTED;
        break;
      }
      default:
        ret = NOT_SUPPORTED;
        break;
    }
    regs.setX(0, BigInt.asUintN(64, BigInt(ret)));
    return true;
  }
}
