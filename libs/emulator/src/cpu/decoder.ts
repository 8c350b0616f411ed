/**
 * The A64 decode table as data: (class, name, mask, value, handler). Compiled once into 16 buckets
 * by bits [28:25] (the architecture's top-level op0 field); within a bucket the first match wins,
 * so more specific encodings precede general ones. A word no entry matches is UNDEFINED.
 */
import type { Cpu } from './cpu';
import { UndefinedInstruction } from './exceptions';
import { BRANCH } from './insn/branch';
import { DP_IMM, fastLogicalImm } from './insn/dp-imm';
import { DP_REG } from './insn/dp-reg';
import { FP } from './insn/fp';
import { LDST } from './insn/ldst';
import { SIMD } from './insn/simd';
import { SYSTEM } from './insn/system';
import {
  fastAddSubImm,
  fastAddSubReg,
  fastAdr,
  fastDp3,
  fastIndexed,
  fastPair,
  fastRegisterOffset,
  fastBcond,
  fastBranch,
  fastCbz,
  fastLogicalReg,
  fastUnsignedOffset,
} from './insn/fast';

export type Handler = (cpu: Cpu, insn: number) => void;

export interface InsnDef {
  cls: string;
  name: string;
  mask: number;
  value: number;
  fn: Handler;
  /** Optional specialiser: a closure with the fields bound, for the forms it covers. */
  spec?: (insn: number) => Handler | undefined;
}

const SPECIALISERS: Record<string, (insn: number) => Handler | undefined> = {
  'ADD/SUB (immediate)': fastAddSubImm,
  'B/BL': fastBranch,
  'B.cond': fastBcond,
  'CBZ/CBNZ': fastCbz,
  'load/store (unsigned offset)': fastUnsignedOffset,
  'logical (shifted register)': fastLogicalReg,
  'ADD/SUB (shifted register)': fastAddSubReg,
  'load/store (register offset)': fastRegisterOffset,
  'ADR/ADRP': fastAdr,
  'data processing (3 source)': fastDp3,
  'load/store pair': fastPair,
  'load/store (imm9)': fastIndexed,
  'logical (immediate)': fastLogicalImm,
};

export const TABLE: InsnDef[] = [...BRANCH, ...SYSTEM, ...DP_IMM, ...DP_REG, ...LDST, ...FP, ...SIMD].map(
  (d) => (SPECIALISERS[d.name] ? { ...d, spec: SPECIALISERS[d.name] } : d),
);

const OP0_MASK = 0xf << 25;
const buckets: InsnDef[][] = Array.from({ length: 16 }, (_, op0) =>
  TABLE.filter((d) => ((d.value ^ (op0 << 25)) & d.mask & OP0_MASK) === 0),
);

function undefinedInsn(_cpu: Cpu, insn: number): void {
  throw new UndefinedInstruction(insn);
}

/** The table entry for a word, or undefined. */
export function lookup(insn: number): InsnDef | undefined {
  const bucket = buckets[(insn >>> 25) & 0xf];
  for (let i = 0; i < bucket.length; i++) {
    const d = bucket[i];
    if ((insn & d.mask) >>> 0 === d.value >>> 0) return d;
  }
  return undefined;
}

export function decode(insn: number): Handler {
  const d = lookup(insn);
  if (d === undefined) return undefinedInsn;
  return d.spec?.(insn) ?? d.fn;
}
