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
