/**
 * What a machine plugs into the CPU in system mode (`Cpu.system`), and nothing more:
 *
 * - the physical bus: a `PagedMemory` (cpu/memory.ts) with RAM, ROM-device and `MmioDevice` windows;
 * - the interrupt inputs: `cpu.irq` and `cpu.fiq` are `IrqLine`s the interrupt controller drives
 *   (level-sensitive); `cpu.serror()` makes an SError pending;
 * - `SystemConfig` below: the clock behind the generic timer, the timer outputs, the GICv3 CPU
 *   interface (ICC_* system registers) and the firmware call conduit (PSCI over HVC/SMC).
 *
 * The run loop: `cpu.run(n)` returns early when the CPU executes WFI/WFE with nothing pending;
 * `cpu.waiting` is then true until an interrupt line rises (or the WFE wake-up time,
 * `cpu.wakeAtNs`, passes), so the machine sleeps until its next clock event instead of spinning.
 */
import type { Clock } from '../devices/device';
import type { Cpu } from './cpu';

/** The generic timers of one PE: EL1 physical (PPI 14, INTID 30) and virtual (PPI 11, INTID 27). */
export type TimerId = 'phys' | 'virt';

/**
 * The GICv3 CPU interface registers, by name without the `ICC_` prefix and `_EL1` suffix
 * (`AP0R0`..`AP0R3`, `AP1R0`..`AP1R3` are the active-priority registers). 64-bit values are bigint
 * (SGI1R carries Aff3 in bits 55:48). Reads of write-only and writes of read-only registers never
 * reach the interface: the CPU makes them UNDEFINED.
 */
export type IccRegister =
  | 'PMR'
  | 'IAR0'
  | 'EOIR0'
  | 'HPPIR0'
  | 'BPR0'
  | 'AP0R0'
  | 'AP0R1'
  | 'AP0R2'
  | 'AP0R3'
  | 'AP1R0'
  | 'AP1R1'
  | 'AP1R2'
  | 'AP1R3'
  | 'DIR'
  | 'RPR'
  | 'SGI1R'
  | 'ASGI1R'
  | 'SGI0R'
  | 'IAR1'
  | 'EOIR1'
  | 'HPPIR1'
  | 'BPR1'
  | 'CTLR'
  | 'SRE'
  | 'IGRPEN0'
  | 'IGRPEN1';

/** The system-register face of a GICv3 (the device implements it for the PE it serves). */
export interface IccInterface {
  read(reg: IccRegister): bigint;
  write(reg: IccRegister, value: bigint): void;
}

/**
 * HVC and SMC as the firmware (QEMU's built-in PSCI) answers them. `call` reads the arguments from
 * X0..X7 (`cpu.getX`) and writes results with `cpu.setX`; it returns false for an immediate or
 * function it does not handle, and the instruction is then UNDEFINED (no EL2/EL3 to trap to).
 * For SYSTEM_OFF/RESET it stops the machine (e.g. sets `cpu.halted`).
 */
export interface FirmwareCalls {
  call(cpu: Cpu, conduit: 'hvc' | 'smc', imm: number): boolean;
}

export interface SystemConfig {
  /** Guest time; CNTPCT_EL0 = nowNs * CNTFRQ / 1e9. */
  clock: Clock;
  /** A timer's output changed level; the machine wires it to the GIC (PPI 14 phys, PPI 11 virt). */
  timerIrq(timer: TimerId, level: boolean): void;
  /** The GICv3 CPU interface; absent (GICv2): ICC_* are UNDEFINED and ID_AA64PFR0_EL1.GIC is 0. */
  icc?: IccInterface;
  /** The conduit for PSCI/SMCCC; absent: HVC and SMC are UNDEFINED. */
  firmware?: FirmwareCalls;
  /** MPIDR_EL1 Aff0..Aff2 (bits 23:0) of this PE; default 0. */
  affinity?: number;
}
