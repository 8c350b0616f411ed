/** Branches: immediate, conditional, compare/test-and-branch, register; exception generation. */
import { addOffset, conditionHolds, sext, setX } from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';

function branchTo(c: Cpu, off: number): void {
  addOffset(c, c.pcLo, c.pcHi, off);
  c.npcLo = c.rlo;
  c.npcHi = c.rhi;
}

/** X30 = address of the next instruction (npcLo may be 2^32 at the top of a 4 GiB window). */
export function setLink(c: Cpu): void {
  setX(c, 30, c.npcLo >>> 0, c.npcLo > 0xffffffff ? (c.pcHi + 1) >>> 0 : c.pcHi);
}

function b(c: Cpu, i: number): void {
  if (i < 0) setLink(c);
  branchTo(c, sext(i & 0x3ffffff, 26) * 4);
}

function bcond(c: Cpu, i: number): void {
  if (conditionHolds(c, i & 0xf)) branchTo(c, sext((i >>> 5) & 0x7ffff, 19) * 4);
}

function cbz(c: Cpu, i: number): void {
  const t = i & 31;
  const zero = i < 0 ? (c.x[t << 1] | c.x[(t << 1) | 1]) === 0 : c.x[t << 1] === 0;
  if (zero !== ((i >>> 24) & 1) > 0) branchTo(c, sext((i >>> 5) & 0x7ffff, 19) * 4);
}

function tbz(c: Cpu, i: number): void {
  const t = i & 31;
  const bit = ((i >>> 26) & 32) | ((i >>> 19) & 31);
  const v = bit < 32 ? (c.x[t << 1] >>> bit) & 1 : (c.x[(t << 1) | 1] >>> (bit - 32)) & 1;
  if (v === ((i >>> 24) & 1)) branchTo(c, sext((i >>> 5) & 0x3fff, 14) * 4);
}

function br(c: Cpu, i: number): void {
  const n = (i >>> 5) & 31;
  const lo = c.x[n << 1];
  const hi = c.x[(n << 1) | 1];
  if (((i >>> 21) & 3) === 1) setLink(c);
  c.npcLo = lo;
  c.npcHi = hi;
}

function eret(c: Cpu, i: number): void {
  if (c.el === 0) throw new UndefinedInstruction(i, 'ERET at EL0');
  c.exceptionReturn(i);
}

const exc =
  (kind: 'svc' | 'hvc' | 'smc' | 'brk' | 'hlt') =>
  (c: Cpu, i: number): void => {
    if ((kind === 'hvc' || kind === 'smc') && c.el === 0)
      throw new UndefinedInstruction(i, `${kind.toUpperCase()} at EL0`);
    c.raise(kind, i, (i >>> 5) & 0xffff);
  };

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'branch',
  name,
  mask,
  value,
  fn,
});

export const BRANCH: InsnDef[] = [
  d('B/BL', 0x7c000000, 0x14000000, b),
  d('B.cond', 0xff000010, 0x54000000, bcond),
  d('CBZ/CBNZ', 0x7e000000, 0x34000000, cbz),
  d('TBZ/TBNZ', 0x7e000000, 0x36000000, tbz),
  d('BR', 0xfffffc1f, 0xd61f0000, br),
  d('BLR', 0xfffffc1f, 0xd63f0000, br),
  d('RET', 0xfffffc1f, 0xd65f0000, br),
  d('ERET', 0xffffffff, 0xd69f03e0, eret),
  d('SVC', 0xffe0001f, 0xd4000001, exc('svc')),
  d('HVC', 0xffe0001f, 0xd4000002, exc('hvc')),
  d('SMC', 0xffe0001f, 0xd4000003, exc('smc')),
  d('BRK', 0xffe0001f, 0xd4200000, exc('brk')),
  d('HLT', 0xffe0001f, 0xd4400000, exc('hlt')),
];
