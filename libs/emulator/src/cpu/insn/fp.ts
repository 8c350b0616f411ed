/**
 * Scalar floating point (single and double): arithmetic, FMA, compare, select, conversions,
 * rounding, moves. Half precision is not implemented (UNDEFINED). FPSR exception flags are not
 * accumulated.
 */
import { conditionHolds, fromBig, setX, toBig, toSBig } from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';
import { arith, F32, F64, fma, fromInt, RA, RM, RN, roundExact, roundInt, RP, RZ, toInt } from '../fpu';

export const rmode = (c: Cpu): number => (c.fpcr >>> 22) & 3;
const dn = (c: Cpu): boolean => ((c.fpcr >>> 25) & 1) === 1;

export function getF(c: Cpu, r: number, dbl: boolean): number {
  return dbl ? c.vf64[r << 1] : c.vf32[r << 2];
}

/** NaN class of register r's low element: 0 number, 1 quiet NaN, 2 signalling NaN. */
export function nanKind(c: Cpu, r: number, dbl: boolean): number {
  const w = dbl ? c.vw[(r << 2) + 1] : c.vw[r << 2];
  const lo = dbl ? c.vw[r << 2] : 0;
  if (dbl) {
    if ((w & 0x7ff00000) !== 0x7ff00000 || ((w & 0xfffff) | lo) === 0) return 0;
    return w & 0x80000 ? 1 : 2;
  }
  if ((w & 0x7f800000) !== 0x7f800000 || (w & 0x7fffff) === 0) return 0;
  return w & 0x400000 ? 1 : 2;
}

function clearV(c: Cpu, d: number): void {
  const w = d << 2;
  c.vw[w] = 0;
  c.vw[w + 1] = 0;
  c.vw[w + 2] = 0;
  c.vw[w + 3] = 0;
}

export function writeDefaultNaN(c: Cpu, d: number, dbl: boolean): void {
  clearV(c, d);
  if (dbl) c.vw[(d << 2) + 1] = 0x7ff80000;
  else c.vw[d << 2] = 0x7fc00000;
}

/** Writes a finite/infinite result; a NaN result (generated, not propagated) is the default NaN. */
export function setF(c: Cpu, d: number, dbl: boolean, v: number): void {
  if (v !== v) return writeDefaultNaN(c, d, dbl);
  clearV(c, d);
  if (dbl) c.vf64[d << 1] = v;
  else c.vf32[d << 2] = v;
}

/** ARM NaN propagation over operand registers in order; writes Vd and returns true if any is NaN. */
export function propagateNaN(c: Cpu, d: number, dbl: boolean, ops: number[]): boolean {
  let pick = -1;
  for (const r of ops)
    if (nanKind(c, r, dbl) === 2) {
      pick = r;
      break;
    }
  if (pick < 0)
    for (const r of ops)
      if (nanKind(c, r, dbl) === 1) {
        pick = r;
        break;
      }
  if (pick < 0) return false;
  if (dn(c)) {
    writeDefaultNaN(c, d, dbl);
    return true;
  }
  if (dbl) {
    const lo = c.vw[pick << 2];
    const hi = c.vw[(pick << 2) + 1] | 0x80000;
    clearV(c, d);
    c.vw[d << 2] = lo;
    c.vw[(d << 2) + 1] = hi;
  } else {
    const w = c.vw[pick << 2] | 0x400000;
    clearV(c, d);
    c.vw[d << 2] = w;
  }
  return true;
}

function ftype(i: number): boolean {
  const t = (i >>> 22) & 3;
  if (t === 0) return false;
  if (t === 1) return true;
  throw new UndefinedInstruction(i, t === 3 ? 'half precision not implemented' : 'unallocated ftype');
}

function binary(c: Cpu, op: number, a: number, b: number, dbl: boolean): number {
  const mode = rmode(c);
  const f = dbl ? F64 : F32;
  switch (op) {
    case 0:
      return mode === RN ? (dbl ? a * b : Math.fround(a * b)) : arith('*', a, b, f, mode);
    case 1:
      return mode === RN ? (dbl ? a / b : Math.fround(a / b)) : arith('/', a, b, f, mode);
    case 2:
      return mode === RN ? (dbl ? a + b : Math.fround(a + b)) : arith('+', a, b, f, mode);
    case 3:
      return mode === RN ? (dbl ? a - b : Math.fround(a - b)) : arith('-', a, b, f, mode);
    case 4:
    case 6:
      if (a === 0 && b === 0) return Object.is(a, -0) && Object.is(b, -0) ? -0 : 0;
      return a > b ? a : b;
    case 5:
    case 7:
      if (a === 0 && b === 0) return Object.is(a, -0) || Object.is(b, -0) ? -0 : 0;
      return a < b ? a : b;
    default: {
      const r = mode === RN ? (dbl ? a * b : Math.fround(a * b)) : arith('*', a, b, f, mode);
      return -r;
    }
  }
}

/** FMUL, FDIV, FADD, FSUB, FMAX, FMIN, FMAXNM, FMINNM, FNMUL; also used by SIMD lanes. */
export function fpBinary(c: Cpu, op: number, a: number, b: number, dbl: boolean): number {
  return binary(c, op, a, b, dbl);
}

function dp2(c: Cpu, i: number): void {
  const dbl = ftype(i);
  const op = (i >>> 12) & 15;
  if (op > 8) throw new UndefinedInstruction(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  if (op === 6 || op === 7) {
    // FMAXNM/FMINNM: a quiet NaN loses to a number.
    const kn = nanKind(c, n, dbl);
    const km = nanKind(c, m, dbl);
    if (kn === 1 && km === 0) return setF(c, d, dbl, getF(c, m, dbl));
    if (km === 1 && kn === 0) return setF(c, d, dbl, getF(c, n, dbl));
  }
  if (propagateNaN(c, d, dbl, [n, m])) {
    if (op === 8) c.vw[(d << 2) + (dbl ? 1 : 0)] ^= 0x80000000; // FNMUL negates the product's NaN too
    return;
  }
  const r = binary(c, op, getF(c, n, dbl), getF(c, m, dbl), dbl);
  setF(c, d, dbl, r);
  if (op === 8 && r !== r) c.vw[(d << 2) + (dbl ? 1 : 0)] ^= 0x80000000;
}

function dp3(c: Cpu, i: number): void {
  const dbl = ftype(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const a = (i >>> 10) & 31;
  const m = (i >>> 16) & 31;
  const o1 = (i >>> 21) & 1;
  const o0 = (i >>> 15) & 1;
  const vn = getF(c, n, dbl);
  const vm = getF(c, m, dbl);
  const va = getF(c, a, dbl);
  const ka = nanKind(c, a, dbl);
  if (ka === 1 && ((vn === 0 && Math.abs(vm) === Infinity) || (vm === 0 && Math.abs(vn) === Infinity)))
    return writeDefaultNaN(c, d, dbl);
  // The architecture negates operands before NaN propagation: a negated NaN keeps its flip.
  const src =
    [a, n, m].find((r) => nanKind(c, r, dbl) === 2) ?? [a, n, m].find((r) => nanKind(c, r, dbl) === 1);
  if (propagateNaN(c, d, dbl, [a, n, m])) {
    const negated = (src === a && o1 === 1) || (src === n && src !== a && o1 !== o0);
    if (negated && !dn(c)) c.vw[(d << 2) + (dbl ? 1 : 0)] ^= 0x80000000;
    return;
  }
  const addend = o1 ? -va : va;
  const p1 = o1 !== o0 ? -vn : vn;
  setF(c, d, dbl, fma(p1, vm, addend, dbl ? F64 : F32, rmode(c)));
}

function dp1(c: Cpu, i: number): void {
  const op = (i >>> 15) & 63;
  const t = (i >>> 22) & 3;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  if (op >= 4 && op <= 7) {
    // FCVT between precisions
    if (t === 3 || op === 7 || op === 6 || t === 2)
      throw new UndefinedInstruction(i, 'half precision not implemented');
    const toDbl = op === 5;
    const fromDbl = t === 1;
    if (toDbl === fromDbl) throw new UndefinedInstruction(i);
    const k = nanKind(c, n, fromDbl);
    if (k !== 0) {
      if (dn(c)) return writeDefaultNaN(c, d, toDbl);
      // Keep sign and top payload bits, quieted.
      if (fromDbl) {
        const hi = c.vw[(n << 2) + 1];
        const lo = c.vw[n << 2];
        const w = (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
        clearV(c, d);
        c.vw[d << 2] = w >>> 0;
      } else {
        const w = c.vw[n << 2];
        clearV(c, d);
        c.vw[d << 2] = (w & 0x1fffffff) << 29;
        c.vw[(d << 2) + 1] = ((w & 0x80000000) | 0x7ff80000 | ((w >>> 3) & 0x7ffff)) >>> 0;
      }
      return;
    }
    const v = getF(c, n, fromDbl);
    if (toDbl) return setF(c, d, true, v);
    const mode = rmode(c);
    return setF(c, d, false, mode === RN ? Math.fround(v) : roundToF32(v, mode));
  }
  const dbl = ftype(i);
  if (op <= 3) {
    if (op === 0 || op === 1 || op === 2) {
      // FMOV, FABS, FNEG act on the bits (NaNs included).
      const wlo = c.vw[n << 2];
      const whi = c.vw[(n << 2) + 1];
      clearV(c, d);
      if (dbl) {
        c.vw[d << 2] = wlo;
        c.vw[(d << 2) + 1] = op === 0 ? whi : op === 1 ? whi & 0x7fffffff : (whi ^ 0x80000000) >>> 0;
      } else c.vw[d << 2] = op === 0 ? wlo : op === 1 ? wlo & 0x7fffffff : (wlo ^ 0x80000000) >>> 0;
      return;
    }
    if (propagateNaN(c, d, dbl, [n])) return;
    const v = getF(c, n, dbl);
    const mode = rmode(c);
    if (mode === RN || v < 0 || v === 0 || v === Infinity)
      setF(c, d, dbl, dbl ? Math.sqrt(v) : Math.fround(Math.sqrt(v)));
    else setF(c, d, dbl, arith('sqrt', v, 1, dbl ? F64 : F32, mode));
    return;
  }
  if (op >= 8 && op <= 15 && op !== 13) {
    if (propagateNaN(c, d, dbl, [n])) return;
    const modes = [RN, RP, RM, RZ, RA, -1, rmode(c), rmode(c)];
    setF(c, d, dbl, roundInt(getF(c, n, dbl), modes[op - 8]));
    return;
  }
  throw new UndefinedInstruction(i);
}

function roundToF32(v: number, mode: number): number {
  if (!Number.isFinite(v) || v === 0) return Math.fround(v);
  return arith('*', v, 1, F32, mode);
}

function compare(c: Cpu, i: number): void {
  const dbl = ftype(i);
  if (((i >>> 14) & 3) !== 0 || (i & 7) !== 0) throw new UndefinedInstruction(i);
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const zero = ((i >>> 3) & 1) === 1;
  const a = getF(c, n, dbl);
  const b = zero ? 0 : getF(c, m, dbl);
  setCompareFlags(c, a, b);
}

function setCompareFlags(c: Cpu, a: number, b: number): void {
  if (a !== a || b !== b) c.nzcv = 0x30000000;
  else if (a === b) c.nzcv = 0x60000000;
  else if (a < b) c.nzcv = 0x80000000 | 0;
  else c.nzcv = 0x20000000;
}

function condCompare(c: Cpu, i: number): void {
  const dbl = ftype(i);
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  if (conditionHolds(c, (i >>> 12) & 15)) setCompareFlags(c, getF(c, n, dbl), getF(c, m, dbl));
  else c.nzcv = (i & 15) << 28;
}

function condSelect(c: Cpu, i: number): void {
  const dbl = ftype(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const s = conditionHolds(c, (i >>> 12) & 15) ? n : m;
  const lo = c.vw[s << 2];
  const hi = dbl ? c.vw[(s << 2) + 1] : 0;
  clearV(c, d);
  c.vw[d << 2] = lo;
  c.vw[(d << 2) + 1] = hi;
}

export function expandImm8(imm8: number): number {
  const sign = imm8 & 0x80 ? -1 : 1;
  return sign * ((16 + (imm8 & 15)) / 16) * 2 ** ((((imm8 >>> 4) & 7) ^ 4) - 3);
}

function fmovImm(c: Cpu, i: number): void {
  const dbl = ftype(i);
  if (((i >>> 5) & 31) !== 0) throw new UndefinedInstruction(i);
  setF(c, i & 31, dbl, expandImm8((i >>> 13) & 0xff));
}

function convInt(c: Cpu, i: number): void {
  const sf = i < 0;
  const t = (i >>> 22) & 3;
  const rm = (i >>> 19) & 3;
  const op = (i >>> 16) & 7;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  if (((i >>> 29) & 1) !== 0) throw new UndefinedInstruction(i);
  if (op === 6 || op === 7) {
    // FMOV general <-> FP
    if (rm === 0 && ((t === 0 && !sf) || (t === 1 && sf))) {
      if (op === 6) {
        setX(c, d, c.vw[n << 2], sf ? c.vw[(n << 2) + 1] : 0);
      } else {
        clearV(c, d);
        c.vw[d << 2] = c.x[n << 1];
        if (sf) c.vw[(d << 2) + 1] = c.x[(n << 1) | 1];
      }
      return;
    }
    if (rm === 1 && t === 2 && sf) {
      if (op === 6) setX(c, d, c.vw[(n << 2) + 2], c.vw[(n << 2) + 3]);
      else {
        c.vw[(d << 2) + 2] = c.x[n << 1];
        c.vw[(d << 2) + 3] = c.x[(n << 1) | 1];
      }
      return;
    }
    throw new UndefinedInstruction(i);
  }
  if (t > 1) throw new UndefinedInstruction(i, 'half precision not implemented');
  const dbl = t === 1;
  const bits = sf ? 64 : 32;
  if (op === 2 || op === 3) {
    if (rm !== 0) throw new UndefinedInstruction(i);
    const v =
      op === 2
        ? sf
          ? toSBig(c.x[n << 1], c.x[(n << 1) | 1])
          : BigInt(c.x[n << 1] | 0)
        : sf
          ? toBig(c.x[n << 1], c.x[(n << 1) | 1])
          : BigInt(c.x[n << 1]);
    setF(c, d, dbl, fromInt(v, dbl ? F64 : F32, rmode(c)));
    return;
  }
  if (op === 4 || op === 5) {
    if (rm !== 0) throw new UndefinedInstruction(i);
    return fcvtToInt(c, d, getF(c, n, dbl), bits, op === 4, RA);
  }
  if (op > 1) throw new UndefinedInstruction(i);
  const modes = [RN, RP, RM, RZ];
  fcvtToInt(c, d, getF(c, n, dbl), bits, op === 0, modes[rm]);
}

function fcvtToInt(c: Cpu, d: number, v: number, bits: number, signed: boolean, mode: number): void {
  const r = toInt(v, bits, signed, mode);
  fromBig(c, r);
  setX(c, d, c.rlo, bits === 64 ? c.rhi : 0);
}

function convFixed(c: Cpu, i: number): void {
  const sf = i < 0;
  const t = (i >>> 22) & 3;
  const rm = (i >>> 19) & 3;
  const op = (i >>> 16) & 7;
  const scale = 64 - ((i >>> 10) & 63);
  if (t > 1 || (!sf && scale > 32)) throw new UndefinedInstruction(i);
  const dbl = t === 1;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  if (rm === 0 && (op === 2 || op === 3)) {
    const v =
      op === 2
        ? sf
          ? toSBig(c.x[n << 1], c.x[(n << 1) | 1])
          : BigInt(c.x[n << 1] | 0)
        : sf
          ? toBig(c.x[n << 1], c.x[(n << 1) | 1])
          : BigInt(c.x[n << 1]);
    if (v === 0n) return setF(c, d, dbl, 0);
    const neg = v < 0n;
    return setF(c, d, dbl, roundExact(neg, neg ? -v : v, -scale, dbl ? F64 : F32, rmode(c)));
  }
  if (rm === 3 && (op === 0 || op === 1)) {
    const v = getF(c, n, dbl) * 2 ** scale;
    return fcvtToInt(c, d, v, sf ? 64 : 32, op === 0, RZ);
  }
  throw new UndefinedInstruction(i);
}

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'fp',
  name,
  mask,
  value,
  fn,
});

export const FP: InsnDef[] = [
  d('FP data processing (1 source)', 0xff207c00, 0x1e204000, dp1),
  d('FP compare', 0xff203c00, 0x1e202000, compare),
  d('FMOV (immediate)', 0xff201c00, 0x1e201000, fmovImm),
  d('FCCMP', 0xff200c00, 0x1e200400, condCompare),
  d('FP data processing (2 source)', 0xff200c00, 0x1e200800, dp2),
  d('FCSEL', 0xff200c00, 0x1e200c00, condSelect),
  d('FP data processing (3 source)', 0xff000000, 0x1f000000, dp3),
  d('FP <-> integer', 0x7f20fc00, 0x1e200000, convInt),
  d('FP <-> fixed point', 0x7f200000, 0x1e000000, convFixed),
];
