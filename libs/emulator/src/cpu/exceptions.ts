/** Why the CPU left the normal flow of instructions; delivered to the ExceptionSink. */
export type ExceptionKind =
  | 'svc'
  | 'hvc'
  | 'smc'
  | 'brk'
  | 'hlt'
  | 'undefined'
  | 'data-abort'
  | 'instruction-abort'
  | 'alignment';

export interface GuestException {
  kind: ExceptionKind;
  /** Address of the instruction that raised it. */
  pc: bigint;
  /** The instruction's encoding (0 for an instruction abort). */
  insn: number;
  /** SVC/HVC/SMC/BRK/HLT immediate. */
  imm: number;
  /** Faulting data or instruction address for aborts. */
  address?: bigint;
  write?: boolean;
}

/** Thrown by an instruction handler for an unallocated or unimplemented encoding. */
export class UndefinedInstruction extends Error {
  constructor(
    readonly insn: number,
    reason = 'unallocated or unimplemented encoding',
  ) {
    super(`undefined instruction 0x${(insn >>> 0).toString(16).padStart(8, '0')} (${reason})`);
  }
}

export function describeException(e: GuestException): string {
  const at = `at pc 0x${e.pc.toString(16)}`;
  const enc = `0x${(e.insn >>> 0).toString(16).padStart(8, '0')}`;
  switch (e.kind) {
    case 'undefined':
      return `undefined instruction ${enc} ${at}`;
    case 'data-abort':
      return `data abort (${e.write ? 'write' : 'read'} of unmapped address 0x${(e.address ?? 0n).toString(16)}) ${at}`;
    case 'instruction-abort':
      return `instruction abort (fetch from unmapped address) ${at}`;
    case 'alignment':
      return `alignment fault on 0x${(e.address ?? 0n).toString(16)} ${at}`;
    default:
      return `${e.kind.toUpperCase()} #${e.imm} ${at}`;
  }
}

/**
 * A translation fault from the MMU (or an external abort), thrown by an access and turned into an
 * instruction or data abort. Not an Error: guests page-fault often and a stack trace is wasted work.
 */
export class Abort {
  constructor(
    readonly lo: number,
    readonly hi: number,
    /** Fault status code, level included (mmu.ts FSC). */
    readonly fsc: number,
    /** ACC_R, ACC_W or ACC_X (mmu.ts). */
    readonly access: number,
  ) {}
}

/** Exception classes (ESR_ELx.EC) this CPU raises. */
export const EC = {
  unknown: 0x00,
  wfx: 0x01,
  svc: 0x15,
  hvc: 0x16,
  smc: 0x17,
  sysreg: 0x18,
  iabortLower: 0x20,
  iabortSame: 0x21,
  pcAlignment: 0x22,
  dabortLower: 0x24,
  dabortSame: 0x25,
  spAlignment: 0x26,
  serror: 0x2f,
  brk: 0x3c,
} as const;
