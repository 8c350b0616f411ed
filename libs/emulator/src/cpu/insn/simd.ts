/**
 * Advanced SIMD: the integer, logical, permute, copy, immediate, shift, widening/narrowing,
 * across-lanes and floating-point vector operations compilers and glibc's string and math routines
 * use, plus their scalar forms. Saturating-doubling, polynomial, crypto, dot-product and
 * half-precision operations are not implemented (UNDEFINED).
 * Lanes of 8/16/32 bits are JS numbers; 64-bit lanes are BigInt (rare in hot code).
 */
import { setX } from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';
import {
  arith,
  decompose as decomposeAbs,
  F32,
  F64,
  fma,
  fromInt,
  RA,
  RM,
  RN,
  roundExact,
  roundInt,
  RP,
  RZ,
  toInt,
} from '../fpu';

const f32scratch = new Float32Array(1);
const f32words = new Uint32Array(f32scratch.buffer);
function f32bits(v: number): number {
  f32scratch[0] = v;
  return f32words[0];
}
import { expandImm8, fpBinary, rmode } from './fp';

const M64 = (1n << 64n) - 1n;

/** Unsigned lane e of size (0..2) of register r. */
function lane(c: Cpu, r: number, size: number, e: number): number {
  if (size === 0) return c.vb[(r << 4) + e];
  if (size === 1) return c.vh[(r << 3) + e];
  return c.vw[(r << 2) + e];
}

function lane64(c: Cpu, r: number, e: number): bigint {
  const w = (r << 2) + e * 2;
  return (BigInt(c.vw[w + 1]) << 32n) | BigInt(c.vw[w]);
}

const signed = (v: number, size: number): number =>
  size === 2 ? v | 0 : (v << (32 - (8 << size))) >> (32 - (8 << size));

/** All lanes of a register (read before writing, so Vd may equal a source). */
function read(c: Cpu, r: number, size: number, count: number, sgn = false): number[] {
  const out = new Array<number>(count);
  for (let e = 0; e < count; e++) out[e] = sgn ? signed(lane(c, r, size, e), size) : lane(c, r, size, e);
  return out;
}

function read64(c: Cpu, r: number, count: number, sgn = false): bigint[] {
  const out: bigint[] = [];
  for (let e = 0; e < count; e++) out.push(sgn ? BigInt.asIntN(64, lane64(c, r, e)) : lane64(c, r, e));
  return out;
}

/** Writes lanes (size 0..2) starting at lane 0 and zeroes the register above `bytes`. */
function write(c: Cpu, d: number, size: number, vals: number[], bytes: number): void {
  for (let e = 0; e < vals.length; e++) {
    const v = vals[e];
    if (size === 0) c.vb[(d << 4) + e] = v;
    else if (size === 1) c.vh[(d << 3) + e] = v;
    else c.vw[(d << 2) + e] = v;
  }
  for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
}

function write64(c: Cpu, d: number, vals: bigint[], bytes: number): void {
  for (let e = 0; e < vals.length; e++) {
    const v = BigInt.asUintN(64, vals[e]);
    c.vw[(d << 2) + e * 2] = Number(v & 0xffffffffn);
    c.vw[(d << 2) + e * 2 + 1] = Number(v >> 32n);
  }
  for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
}

/** Writes FP-to-integer conversion results as 64-bit (`wide`) or 32-bit lanes. */
function writeIntLanes(c: Cpu, d: number, wide: boolean, vals: bigint[], bytes: number): void {
  if (wide) write64(c, d, vals, bytes);
  else
    write(
      c,
      d,
      2,
      vals.map((v) => Number(v)),
      bytes,
    );
}

/** Writes FP comparison results (-1 true, 0 false) as all-ones or all-zeros lanes. */
function writeMask(c: Cpu, d: number, dbl: boolean, r: number[], bytes: number): void {
  if (dbl)
    write64(
      c,
      d,
      r.map((v) => (v === -1 ? M64 : 0n)),
      bytes,
    );
  else write(c, d, 2, r, bytes);
}

function readF(c: Cpu, r: number, dbl: boolean, count: number): number[] {
  const out = new Array<number>(count);
  for (let e = 0; e < count; e++) out[e] = dbl ? c.vf64[(r << 1) + e] : c.vf32[(r << 2) + e];
  return out;
}

/** Writes FP lanes; a NaN result becomes the default NaN (propagated NaNs are handled by callers). */
function writeF(c: Cpu, d: number, dbl: boolean, vals: number[], bytes: number): void {
  for (let e = 0; e < vals.length; e++) {
    const v = vals[e];
    if (dbl) {
      if (v !== v) {
        c.vw[(d << 2) + e * 2] = 0;
        c.vw[(d << 2) + e * 2 + 1] = 0x7ff80000;
      } else c.vf64[(d << 1) + e] = v;
    } else if (v !== v) c.vw[(d << 2) + e] = 0x7fc00000;
    else c.vf32[(d << 2) + e] = v;
  }
  for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
}

const mask = (size: number): number => (size === 2 ? 0xffffffff : (1 << (8 << size)) - 1);
const ones = (size: number): number => mask(size);

function sat(v: number, size: number, sgn: boolean): number {
  const bits = 8 << size;
  const max = sgn ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const min = sgn ? -(2 ** (bits - 1)) : 0;
  return v > max ? max : v < min ? min : v;
}

function shl(a: number, sh: number, size: number, sgn: boolean, round: boolean): number {
  // Register-controlled shift: sh is the signed low byte of the shift operand.
  const bits = 8 << size;
  const v = sgn ? signed(a, size) : a;
  if (sh >= 0) return sh >= bits ? 0 : (v * 2 ** sh) % 2 ** bits;
  const r = -sh;
  const add = round ? 2 ** (r - 1) : 0;
  return Math.floor((v + add) / 2 ** r);
}

function threeSame(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 11) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const bytes = q ? 16 : 8;
  if (op === 3) {
    // Logical, on 32-bit words.
    const a = read(c, n, 2, 4);
    const b = read(c, m, 2, 4);
    const dd = read(c, d, 2, 4);
    const r = new Array<number>(4);
    for (let e = 0; e < 4; e++) {
      const x = a[e];
      const y = b[e];
      let v: number;
      switch ((u << 2) | size) {
        case 0:
          v = x & y;
          break;
        case 1:
          v = x & ~y;
          break;
        case 2:
          v = x | y;
          break;
        case 3:
          v = x | ~y;
          break;
        case 4:
          v = x ^ y;
          break;
        case 5:
          v = (dd[e] & x) | (~dd[e] & y);
          break;
        case 6:
          v = (dd[e] & ~y) | (x & y);
          break;
        default:
          v = (dd[e] & y) | (x & ~y);
      }
      r[e] = v >>> 0;
    }
    write(c, d, 2, r, bytes);
    return;
  }
  if (op >= 24) return fpThreeSame(c, i);
  if (size === 3) {
    if (!q) throw new UndefinedInstruction(i);
    return threeSame64(c, i, 2);
  }
  const count = bytes >>> size;
  const sgn = u === 0;
  const a = read(c, n, size, count, sgn);
  const b = read(c, m, size, count, sgn);
  const msk = mask(size);
  const r = new Array<number>(count);
  const pairwise = op === 20 || op === 21 || op === 23;
  for (let e = 0; e < count; e++) {
    let x = a[e];
    let y = b[e];
    if (pairwise) {
      const src = e < count / 2 ? a : b;
      const k = (e % (count / 2)) * 2;
      x = src[k];
      y = src[k + 1];
    }
    let v: number;
    switch (op) {
      case 0:
        v = Math.floor((x + y) / 2);
        break;
      case 1:
        v = sat(x + y, size, sgn);
        break;
      case 2:
        v = Math.floor((x + y + 1) / 2);
        break;
      case 4:
        v = Math.floor((x - y) / 2);
        break;
      case 5:
        v = sat(x - y, size, sgn);
        break;
      case 6:
        v = x > y ? ones(size) : 0;
        break;
      case 7:
        v = x >= y ? ones(size) : 0;
        break;
      case 8:
      case 10:
        v = shl(a[e], (b[e] << 24) >> 24, size, sgn, op === 10);
        break;
      case 12:
        v = x > y ? x : y;
        break;
      case 13:
        v = x < y ? x : y;
        break;
      case 14:
        v = Math.abs(x - y);
        break;
      case 15:
        v = lane(c, d, size, e) + Math.abs(x - y);
        break;
      case 16:
        v = u ? x - y : x + y;
        break;
      case 17:
        v = u ? ((x & msk) === (y & msk) ? ones(size) : 0) : (x & y & msk) !== 0 ? ones(size) : 0;
        break;
      case 18: {
        const p = size === 2 ? Math.imul(x, y) : x * y;
        v = u ? lane(c, d, size, e) - p : lane(c, d, size, e) + p;
        break;
      }
      case 19:
        if (u) throw new UndefinedInstruction(i, 'PMUL not implemented');
        v = size === 2 ? Math.imul(x, y) : x * y;
        break;
      case 20:
        v = x > y ? x : y;
        break;
      case 21:
        v = x < y ? x : y;
        break;
      case 23:
        if (u) throw new UndefinedInstruction(i);
        v = x + y;
        break;
      default:
        throw new UndefinedInstruction(i, 'SIMD three-same operation not implemented');
    }
    r[e] = size === 2 ? v >>> 0 : v & msk;
  }
  write(c, d, size, r, bytes);
}

/** 64-bit lanes of three-same (vector with count 2, scalar with count 1). */
function threeSame64(c: Cpu, i: number, count: number): void {
  const u = (i >>> 29) & 1;
  const op = (i >>> 11) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const sgn = u === 0;
  const a = read64(c, n, count, sgn);
  const b = read64(c, m, count, sgn);
  const r: bigint[] = [];
  for (let e = 0; e < count; e++) {
    const x = a[e];
    const y = b[e];
    switch (op) {
      case 6:
        r.push(x > y ? M64 : 0n);
        break;
      case 7:
        r.push(x >= y ? M64 : 0n);
        break;
      case 8: {
        const sh = Number(BigInt.asIntN(8, b[e]));
        r.push(
          sh >= 0 ? (sh >= 64 ? 0n : x << BigInt(sh)) : -sh >= 64 ? (x < 0n ? -1n : 0n) : x >> BigInt(-sh),
        );
        break;
      }
      case 16:
        r.push(u ? x - y : x + y);
        break;
      case 17:
        r.push(u ? (BigInt.asUintN(64, x) === BigInt.asUintN(64, y) ? M64 : 0n) : (x & y) !== 0n ? M64 : 0n);
        break;
      case 23:
        if (u || count === 1) throw new UndefinedInstruction(i);
        r.push(e === 0 ? a[0] + a[1] : b[0] + b[1]);
        break;
      default:
        throw new UndefinedInstruction(i, 'SIMD 64-bit lane operation not implemented');
    }
  }
  write64(c, d, r, count * 8);
}

function fpThreeSame(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const a = (i >>> 23) & 1;
  const dbl = ((i >>> 22) & 1) === 1;
  const op = (i >>> 11) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  if (dbl && !q) throw new UndefinedInstruction(i);
  const count = (q ? 16 : 8) / (dbl ? 8 : 4);
  fpLanes(c, i, (u << 6) | (a << 5) | op, d, n, m, dbl, count, q ? 16 : 8);
}

/** FP three-same lanes; key = U:a:opcode. */
function fpLanes(
  c: Cpu,
  i: number,
  key: number,
  d: number,
  n: number,
  m: number,
  dbl: boolean,
  count: number,
  bytes: number,
): void {
  const x = readF(c, n, dbl, count);
  const y = readF(c, m, dbl, count);
  const acc = readF(c, d, dbl, count);
  const r = new Array<number>(count);
  const all = dbl ? -1 : 0xffffffff;
  let isMask = false;
  for (let e = 0; e < count; e++) {
    let a = x[e];
    let b = y[e];
    if (
      key === 0b1011010 ||
      key === 0b1011110 ||
      key === 0b1111110 ||
      key === 0b1011000 ||
      key === 0b1111000
    ) {
      // pairwise
      const src = e < count / 2 ? x : y;
      const k = (e % (count / 2)) * 2;
      a = src[k];
      b = src[k + 1];
      if (count === 1) {
        a = x[0];
        b = x[1];
      }
    }
    let v: number;
    const arithmetic = ARITH_KEYS.has(key);
    if (
      arithmetic &&
      (a !== a || b !== b || ((key === 0b0011001 || key === 0b0111001) && acc[e] !== acc[e]))
    ) {
      const pw = PAIRWISE_KEYS.has(key);
      const src = pw ? (count === 1 ? n : e < count / 2 ? n : m) : n;
      const k0 = pw ? (count === 1 ? 0 : (e % (count / 2)) * 2) : e;
      const ops: [number, number, boolean][] = pw
        ? [
            [src, k0, false],
            [src, k0 + 1, false],
          ]
        : key === 0b0011001 || key === 0b0111001
          ? [
              [d, e, false],
              [n, e, key === 0b0111001],
              [m, e, false],
            ]
          : [
              [n, e, false],
              [m, e, false],
            ];
      if (key === 0b0011001 || key === 0b0111001) {
        // FMLA/FMLS: addend QNaN with inf*0 gives the default NaN.
        const qa = acc[e] !== acc[e];
        if (qa && ((a === 0 && Math.abs(b) === Infinity) || (b === 0 && Math.abs(a) === Infinity))) {
          r[e] = NaN;
          continue;
        }
      }
      if (
        !(
          (key === 0b0011000 || key === 0b1011000 || key === 0b0111000 || key === 0b1111000) &&
          (a !== a) !== (b !== b) &&
          !isSNaNLane(c, ops, dbl)
        )
      ) {
        laneNaN(c, d, e, dbl, ops, key === 0b1111010);
        r[e] = 0;
        continue;
      }
    }
    switch (key) {
      case 0b0011000:
      case 0b1011000:
        v = a !== a ? (b !== b ? NaN : b) : b !== b ? a : fpBinary(c, 6, a, b, dbl);
        break;
      case 0b0111000:
      case 0b1111000:
        v = a !== a ? (b !== b ? NaN : b) : b !== b ? a : fpBinary(c, 7, a, b, dbl);
        break;
      case 0b0011001:
        v = fmaLane(c, a, b, acc[e], dbl);
        break;
      case 0b0111001:
        v = fmaLane(c, -a, b, acc[e], dbl);
        break;
      case 0b0011010:
      case 0b1011010:
        v = fpBinary(c, 2, a, b, dbl);
        break;
      case 0b0111010:
        v = fpBinary(c, 3, a, b, dbl);
        break;
      case 0b1111010:
        v = Math.abs(fpBinary(c, 3, a, b, dbl));
        break;
      case 0b1011011:
        v = fpBinary(c, 0, a, b, dbl);
        break;
      case 0b0011100:
        v = a === b ? all : 0;
        isMask = true;
        break;
      case 0b1011100:
        v = a >= b ? all : 0;
        isMask = true;
        break;
      case 0b1111100:
        v = a > b ? all : 0;
        isMask = true;
        break;
      case 0b1011101:
        v = Math.abs(a) >= Math.abs(b) ? all : 0;
        isMask = true;
        break;
      case 0b1111101:
        v = Math.abs(a) > Math.abs(b) ? all : 0;
        isMask = true;
        break;
      case 0b0011110:
      case 0b1011110:
        v = a !== a || b !== b ? NaN : fpBinary(c, 4, a, b, dbl);
        break;
      case 0b0111110:
      case 0b1111110:
        v = a !== a || b !== b ? NaN : fpBinary(c, 5, a, b, dbl);
        break;
      case 0b1011111:
        v = fpBinary(c, 1, a, b, dbl);
        break;
      default:
        throw new UndefinedInstruction(i, 'SIMD FP operation not implemented');
    }
    r[e] = v;
  }
  if (isMask) writeMask(c, d, dbl, r, bytes);
  else writeF(c, d, dbl, r, bytes);
  flushNaN(c);
}

const ARITH_KEYS = new Set([
  0b0011000, 0b1011000, 0b0111000, 0b1111000, 0b0011001, 0b0111001, 0b0011010, 0b1011010, 0b0111010,
  0b1111010, 0b1011011, 0b0011110, 0b1011110, 0b0111110, 0b1111110, 0b1011111,
]);
const PAIRWISE_KEYS = new Set([0b1011010, 0b1011110, 0b1111110, 0b1011000, 0b1111000]);

function isSNaNLane(c: Cpu, ops: [number, number, boolean][], dbl: boolean): boolean {
  return ops.some(([r, l]) => {
    const hi = dbl ? c.vw[(r << 2) + l * 2 + 1] : c.vw[(r << 2) + l];
    const lo = dbl ? c.vw[(r << 2) + l * 2] : 0;
    return dbl
      ? (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0 && (hi & 0x80000) === 0
      : (hi & 0x7f800000) === 0x7f800000 && (hi & 0x7fffff) !== 0 && (hi & 0x400000) === 0;
  });
}

/**
 * ARM NaN propagation for one FP lane: the first signalling NaN among the operands, else the first
 * quiet one, quieted (or the default NaN under FPCR.DN). Returns false when no operand is a NaN.
 */
function laneNaN(
  c: Cpu,
  d: number,
  e: number,
  dbl: boolean,
  ops: [number, number, boolean][],
  abs = false,
): boolean {
  let pick: [number, number, boolean] | undefined;
  for (const pass of [2, 1]) {
    for (const op of ops) {
      const [r, l] = op;
      const hi = dbl ? c.vw[(r << 2) + l * 2 + 1] : c.vw[(r << 2) + l];
      const lo = dbl ? c.vw[(r << 2) + l * 2] : 0;
      let kind = 0;
      if (dbl)
        kind = (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0 ? (hi & 0x80000 ? 1 : 2) : 0;
      else kind = (hi & 0x7f800000) === 0x7f800000 && (hi & 0x7fffff) !== 0 ? (hi & 0x400000 ? 1 : 2) : 0;
      if (kind === pass) {
        pick = op;
        break;
      }
    }
    if (pick) break;
  }
  if (!pick) return false;
  const [r, l, neg] = pick;
  let hi = dbl ? c.vw[(r << 2) + l * 2 + 1] : c.vw[(r << 2) + l];
  let lo = dbl ? c.vw[(r << 2) + l * 2] : 0;
  if ((c.fpcr >>> 25) & 1) {
    hi = dbl ? 0x7ff80000 : 0x7fc00000;
    lo = 0;
  } else {
    hi |= dbl ? 0x80000 : 0x400000;
    if (neg) hi ^= 0x80000000;
  }
  if (abs) hi &= 0x7fffffff;
  pendingNaN.push([d, e, dbl, lo, hi >>> 0]);
  return true;
}

/** NaN lanes found while computing, written after the lanes' numeric results. */
const pendingNaN: [number, number, boolean, number, number][] = [];

function flushNaN(c: Cpu): void {
  for (const [d, e, dbl, lo, hi] of pendingNaN) {
    if (dbl) {
      c.vw[(d << 2) + e * 2] = lo;
      c.vw[(d << 2) + e * 2 + 1] = hi;
    } else c.vw[(d << 2) + e] = hi;
  }
  pendingNaN.length = 0;
}

function nanQuiet(c: Cpu, r: number, e: number, dbl: boolean): boolean {
  const hi = dbl ? c.vw[(r << 2) + e * 2 + 1] : c.vw[(r << 2) + e];
  return (hi & (dbl ? 0x80000 : 0x400000)) !== 0;
}

function fmaLane(c: Cpu, a: number, b: number, acc: number, dbl: boolean): number {
  if (a !== a || b !== b || acc !== acc) return NaN;
  return fmaF(a, b, acc, dbl, rmode(c));
}

const fmaF = (a: number, b: number, acc: number, dbl: boolean, mode: number): number =>
  fma(a, b, acc, dbl ? F64 : F32, mode);

function twoMisc(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 12) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const bytes = q ? 16 : 8;
  const key = (u << 5) | op;
  // Narrowing and widening first (their sizes describe the other operand).
  if (key === 0b010010 || key === 0b110010 || key === 0b010100 || key === 0b110100) {
    // XTN / SQXTUN / SQXTN / UQXTN
    if (size === 3) throw new UndefinedInstruction(i);
    const srcCount = 8 >>> size;
    const vals: number[] = [];
    for (let e = 0; e < srcCount; e++) {
      let v: number;
      if (size === 2) {
        const w = lane64(c, n, e);
        const sv = key === 0b010100 || key === 0b110010 ? Number(BigInt.asIntN(64, w)) : Number(w);
        v = key === 0b010010 ? Number(w & 0xffffffffn) : sat(sv, 2, key === 0b010100);
      } else {
        const w = lane(c, n, size + 1, e);
        const sv = key === 0b010100 || key === 0b110010 ? signed(w, size + 1) : w;
        v = key === 0b010010 ? w & mask(size) : sat(sv, size, key === 0b010100);
      }
      vals.push(size === 2 ? v >>> 0 : v & mask(size));
    }
    const base = q ? 8 : 0;
    for (let e = 0; e < srcCount; e++) setLaneAt(c, d, size, e + (base >>> size), vals[e]);
    if (!q) for (let k = 8; k < 16; k++) c.vb[(d << 4) + k] = 0;
    return;
  }
  if (key === 0b010111 || key === 0b010110) {
    // FCVTL / FCVTN (single <-> double)
    if (size & 2) throw new UndefinedInstruction(i);
    if ((size & 1) === 0) throw new UndefinedInstruction(i, 'half precision not implemented');
    if (key === 0b010111) {
      const words = [0, 1].map((e) => c.vw[(n << 2) + (q ? 2 : 0) + e]);
      const out: [number, number][] = words.map((w) => {
        if ((w & 0x7f800000) === 0x7f800000 && (w & 0x7fffff) !== 0) {
          if ((c.fpcr >>> 25) & 1) return [0, 0x7ff80000];
          return [
            ((w & 0x1fffffff) << 29) >>> 0,
            ((w & 0x80000000) | 0x7ff80000 | ((w >>> 3) & 0x7ffff)) >>> 0,
          ];
        }
        const dv = new Float64Array([new Float32Array(new Uint32Array([w]).buffer)[0]]);
        const dw = new Uint32Array(dv.buffer);
        return [dw[0], dw[1]];
      });
      for (let e = 0; e < 2; e++) {
        c.vw[(d << 2) + e * 2] = out[e][0];
        c.vw[(d << 2) + e * 2 + 1] = out[e][1];
      }
    } else {
      const mode = rmode(c);
      const out = [0, 1].map((e) => {
        const lo = c.vw[(n << 2) + e * 2];
        const hi = c.vw[(n << 2) + e * 2 + 1];
        if ((hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0) {
          if ((c.fpcr >>> 25) & 1) return 0x7fc00000;
          return ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29)) >>> 0;
        }
        const v = c.vf64[(n << 1) + e];
        const f =
          mode === RN || !Number.isFinite(v) || v === 0
            ? Math.fround(v)
            : roundExact(v < 0, decomposeAbs(v).mant, decomposeAbs(v).exp, F32, mode);
        return f32bits(f);
      });
      const base = q ? 2 : 0;
      c.vw[(d << 2) + base] = out[0];
      c.vw[(d << 2) + base + 1] = out[1];
      if (!q) {
        c.vw[(d << 2) + 2] = 0;
        c.vw[(d << 2) + 3] = 0;
      }
    }
    return;
  }
  if (op >= 0b11000 || (op >= 0b01100 && op <= 0b01111 && size >= 2)) return fpTwoMisc(c, i);
  if (size === 3) {
    if (!q && key !== 0b000000) throw new UndefinedInstruction(i);
    return twoMisc64(c, i, q ? 2 : 1);
  }
  const count = bytes >>> size;
  const a = read(c, n, size, count);
  const msk = mask(size);
  const r = new Array<number>(count);
  switch (key) {
    case 0b000000: // REV64
    case 0b100000: // REV32
    case 0b000001: {
      // REV16
      const group = key === 0b000000 ? 8 : key === 0b100000 ? 4 : 2;
      const esz = 1 << size;
      if (esz >= group) throw new UndefinedInstruction(i);
      const per = group / esz;
      for (let e = 0; e < count; e++) r[e] = a[e - (e % per) + (per - 1 - (e % per))];
      break;
    }
    case 0b000010:
    case 0b100010:
    case 0b000110:
    case 0b100110: {
      // SADDLP / UADDLP / SADALP / UADALP
      if (size === 3) throw new UndefinedInstruction(i);
      const sgn = u === 0;
      const half = count / 2;
      if (size === 2) {
        const src = read(c, n, 2, count, sgn);
        const accum = read64(c, d, half);
        const out: bigint[] = [];
        for (let e = 0; e < half; e++)
          out.push(BigInt(src[2 * e] + src[2 * e + 1]) + (op === 6 ? accum[e] : 0n));
        write64(c, d, out, bytes);
        return;
      }
      const src = read(c, n, size, count, sgn);
      const accum = read(c, d, size + 1, half);
      const out: number[] = [];
      for (let e = 0; e < half; e++)
        out.push((src[2 * e] + src[2 * e + 1] + (op === 6 ? accum[e] : 0)) & mask(size + 1));
      write(c, d, size + 1, out, bytes);
      return;
    }
    case 0b000100: // CLS
    case 0b100100: {
      // CLZ
      const bits = 8 << size;
      for (let e = 0; e < count; e++) {
        let v = a[e];
        if (key === 0b000100) v = (v ^ (signed(v, size) < 0 ? msk : 0)) & msk;
        const lz = Math.clz32(v) - (32 - bits);
        r[e] = key === 0b000100 ? lz - 1 : lz;
      }
      break;
    }
    case 0b000101: // CNT
      if (size !== 0) throw new UndefinedInstruction(i);
      for (let e = 0; e < count; e++) {
        let v = a[e];
        let k = 0;
        while (v) {
          k += v & 1;
          v >>>= 1;
        }
        r[e] = k;
      }
      break;
    case 0b100101: // NOT / RBIT
      if (size === 0) for (let e = 0; e < count; e++) r[e] = ~a[e] & 0xff;
      else if (size === 1)
        for (let e = 0; e < bytes; e++) {
          let v = lane(c, n, 0, e);
          let o = 0;
          for (let k = 0; k < 8; k++) {
            o = (o << 1) | (v & 1);
            v >>>= 1;
          }
          r[e] = o;
        }
      else throw new UndefinedInstruction(i);
      write(c, d, 0, r, bytes);
      return;
    case 0b001000:
    case 0b001001:
    case 0b001010:
    case 0b101000:
    case 0b101001:
      for (let e = 0; e < count; e++) {
        const v = signed(a[e], size);
        const t =
          key === 0b001000
            ? v > 0
            : key === 0b001001
              ? v === 0
              : key === 0b001010
                ? v < 0
                : key === 0b101000
                  ? v >= 0
                  : v <= 0;
        r[e] = t ? msk : 0;
      }
      break;
    case 0b001011: // ABS
      for (let e = 0; e < count; e++) r[e] = Math.abs(signed(a[e], size)) & msk;
      break;
    case 0b101011: // NEG
      for (let e = 0; e < count; e++) r[e] = -a[e] & msk;
      break;
    case 0b110011: {
      // SHLL
      const src = read(c, n, size, 16 >>> size).slice(q ? 8 >>> size : 0, (q ? 16 : 8) >>> size);
      if (size === 2) {
        write64(
          c,
          d,
          src.map((v) => BigInt(v) << 32n),
          16,
        );
        return;
      }
      write(
        c,
        d,
        size + 1,
        src.map((v) => (v << (8 << size)) & mask(size + 1)),
        16,
      );
      return;
    }
    default:
      throw new UndefinedInstruction(i, 'SIMD two-register operation not implemented');
  }
  for (let e = 0; e < count; e++) if (size === 2) r[e] = r[e] >>> 0;
  write(c, d, size, r, bytes);
}

function setLaneAt(c: Cpu, d: number, size: number, e: number, v: number): void {
  if (size === 0) c.vb[(d << 4) + e] = v;
  else if (size === 1) c.vh[(d << 3) + e] = v;
  else c.vw[(d << 2) + e] = v;
}

function twoMisc64(c: Cpu, i: number, count: number): void {
  const u = (i >>> 29) & 1;
  const op = (i >>> 12) & 31;
  const key = (u << 5) | op;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const a = read64(c, n, count, true);
  const r: bigint[] = [];
  for (const v of a) {
    switch (key) {
      case 0b001000:
        r.push(v > 0n ? M64 : 0n);
        break;
      case 0b001001:
        r.push(v === 0n ? M64 : 0n);
        break;
      case 0b001010:
        r.push(v < 0n ? M64 : 0n);
        break;
      case 0b101000:
        r.push(v >= 0n ? M64 : 0n);
        break;
      case 0b101001:
        r.push(v <= 0n ? M64 : 0n);
        break;
      case 0b001011:
        r.push(v < 0n ? -v : v);
        break;
      case 0b101011:
        r.push(-v);
        break;
      default:
        throw new UndefinedInstruction(i, 'SIMD 64-bit two-register operation not implemented');
    }
  }
  write64(c, d, r, count * 8);
}

function fpTwoMisc(c: Cpu, i: number, scalar = false): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const a = (i >>> 23) & 1;
  const dbl = ((i >>> 22) & 1) === 1;
  const op = (i >>> 12) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  if (!scalar && dbl && !q) throw new UndefinedInstruction(i);
  const count = scalar ? 1 : (q ? 16 : 8) / (dbl ? 8 : 4);
  const bytes = scalar ? (dbl ? 8 : 4) : q ? 16 : 8;
  const key = (u << 6) | (a << 5) | op;
  const x = readF(c, n, dbl, count);
  const all = dbl ? -1 : 0xffffffff;
  const mode = rmode(c);
  const f = dbl ? F64 : F32;
  // Integer <-> FP conversions read/write integer lanes.
  if (key === 0b0011101 || key === 0b1011101) {
    const ints: bigint[] = dbl
      ? read64(c, n, count, u === 0)
      : read(c, n, 2, count, u === 0).map((v) => BigInt(v));
    writeF(
      c,
      d,
      dbl,
      ints.map((v) => fromInt(v, f, mode)),
      bytes,
    );
    return;
  }
  const cvt: Record<number, [number, boolean]> = {
    0b0011010: [RN, true],
    0b0011011: [RM, true],
    0b0011100: [RA, true],
    0b0111010: [RP, true],
    0b0111011: [RZ, true],
    0b1011010: [RN, false],
    0b1011011: [RM, false],
    0b1011100: [RA, false],
    0b1111010: [RP, false],
    0b1111011: [RZ, false],
  };
  const cv = cvt[key];
  if (cv) {
    const bits = dbl ? 64 : 32;
    const ints = x.map((v) => toInt(v, bits, cv[1], cv[0]));
    writeIntLanes(c, d, dbl, ints, bytes);
    return;
  }
  if (!FP2_KEYS.has(key)) throw new UndefinedInstruction(i, 'SIMD FP two-register operation not implemented');
  const r = new Array<number>(count);
  let isMask = false;
  const propagates = key !== 0b0101111 && key !== 0b1101111 && (key & 0b11100) !== 0b01100;
  for (let e = 0; e < count; e++) {
    const v = x[e];
    let o: number;
    if (v !== v && propagates) {
      laneNaN(c, d, e, dbl, [[n, e, false]]);
      r[e] = 0;
      continue;
    }
    switch (key) {
      case 0b0011000:
        o = roundInt(v, RN);
        break;
      case 0b0111000:
        o = roundInt(v, RP);
        break;
      case 0b0011001:
        o = roundInt(v, RM);
        break;
      case 0b0111001:
        o = roundInt(v, RZ);
        break;
      case 0b1011000:
        o = roundInt(v, RA);
        break;
      case 0b1011001:
      case 0b1111001:
        o = roundInt(v, mode);
        break;
      case 0b0101100:
        o = v > 0 ? all : 0;
        isMask = true;
        break;
      case 0b0101101:
        o = v === 0 ? all : 0;
        isMask = true;
        break;
      case 0b0101110:
        o = v < 0 ? all : 0;
        isMask = true;
        break;
      case 0b1101100:
        o = v >= 0 ? all : 0;
        isMask = true;
        break;
      case 0b1101101:
        o = v <= 0 ? all : 0;
        isMask = true;
        break;
      case 0b0101111:
        o = Math.abs(v);
        break;
      case 0b1101111:
        o = -v;
        break;
      case 0b1111111:
        o =
          mode === RN || v <= 0 || v === Infinity
            ? dbl
              ? Math.sqrt(v)
              : Math.fround(Math.sqrt(v))
            : arith('sqrt', v, 1, f, mode);
        break;
      default:
        throw new UndefinedInstruction(i, 'SIMD FP two-register operation not implemented');
    }
    r[e] = o;
  }
  if (isMask) writeMask(c, d, dbl, r, bytes);
  else if (key === 0b0101111 || key === 0b1101111) {
    // FABS/FNEG on bits (NaNs keep their payload).
    const words = read(c, n, 2, bytes / 4);
    for (let w = 0; w < words.length; w++) {
      const top = dbl ? w % 2 === 1 : true;
      if (top) words[w] = (key === 0b0101111 ? words[w] & 0x7fffffff : words[w] ^ 0x80000000) >>> 0;
    }
    write(c, d, 2, words, bytes);
  } else writeF(c, d, dbl, r, bytes);
  flushNaN(c);
}

const FP2_KEYS = new Set([
  0b0011000, 0b0111000, 0b0011001, 0b0111001, 0b1011000, 0b1011001, 0b1111001, 0b0101100, 0b0101101,
  0b0101110, 0b1101100, 0b1101101, 0b0101111, 0b1101111, 0b1111111,
]);

function acrossLanes(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 12) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  if (op === 0b01100 || op === 0b01111) {
    // FMAXNMV / FMINNMV / FMAXV / FMINV (single, Q=1)
    if (!u || size & 1 || !q) throw new UndefinedInstruction(i);
    // Reduce on raw bits so NaN payloads propagate as the architecture says.
    const min = (size & 2) !== 0;
    const nm = op === 0b01100;
    const dn = ((c.fpcr >>> 25) & 1) === 1;
    const f = new Float32Array(1);
    const fw = new Uint32Array(f.buffer);
    const val = (w: number): number => {
      fw[0] = w;
      return f[0];
    };
    const isNaN32 = (w: number): boolean => (w & 0x7f800000) === 0x7f800000 && (w & 0x7fffff) !== 0;
    const isQuiet = (w: number): boolean => (w & 0x400000) !== 0;
    const red = (a: number, b: number): number => {
      const na = isNaN32(a);
      const nb = isNaN32(b);
      if (na || nb) {
        if (nm && ((na && isQuiet(a) && !nb) || (nb && isQuiet(b) && !na))) return na ? b : a;
        if (dn) return 0x7fc00000;
        const pick = na && !isQuiet(a) ? a : nb && !isQuiet(b) ? b : na ? a : b;
        return (pick | 0x400000) >>> 0;
      }
      const r = fpBinary(c, min ? 5 : 4, val(a), val(b), false);
      f[0] = r;
      return fw[0];
    };
    const w = [0, 1, 2, 3].map((e) => c.vw[(n << 2) + e]);
    write(c, d, 2, [red(red(w[0], w[1]), red(w[2], w[3]))], 4);
    return;
  }
  if (size === 3 || (size === 2 && !q)) throw new UndefinedInstruction(i);
  const count = (q ? 16 : 8) >>> size;
  const sgn = u === 0;
  const a = read(c, n, size, count, sgn);
  let r: number;
  switch (op) {
    case 0b00011: {
      // SADDLV / UADDLV
      let s = 0;
      for (const v of a) s += v;
      if (size === 2) {
        write64(c, d, [BigInt(s)], 8);
        return;
      }
      write(c, d, size + 1, [s & mask(size + 1)], 16);
      for (let k = 2 << size; k < 16; k++) c.vb[(d << 4) + k] = 0;
      return;
    }
    case 0b11011:
      if (u) throw new UndefinedInstruction(i);
      r = 0;
      for (const v of a) r += v;
      break;
    case 0b01010:
      r = Math.max(...a);
      break;
    case 0b11010:
      r = Math.min(...a);
      break;
    default:
      throw new UndefinedInstruction(i, 'SIMD across-lanes operation not implemented');
  }
  write(c, d, size, [size === 2 ? r >>> 0 : r & mask(size)], 1 << size);
}

function threeDifferent(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 12) & 15;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  if (size === 3) throw new UndefinedInstruction(i);
  const sgn = u === 0;
  const half = 8 >>> size; // lanes of the narrow operand in one 64-bit half
  const off = q ? half : 0;
  const wideSize = size + 1;
  if (op === 4 || op === 6) {
    // ADDHN / SUBHN (/RADDHN, RSUBHN)
    const outs: number[] = [];
    for (let e = 0; e < half; e++) {
      let v: number;
      if (size === 2) {
        const x = lane64(c, n, e);
        const y = lane64(c, m, e);
        let s = BigInt.asUintN(64, op === 4 ? x + y : x - y);
        if (u) s = BigInt.asUintN(64, s + (1n << 31n));
        v = Number(s >> 32n);
      } else {
        const x = lane(c, n, wideSize, e);
        const y = lane(c, m, wideSize, e);
        let s = (op === 4 ? x + y : x - y) & mask(wideSize);
        if (u) s = (s + (1 << ((8 << size) - 1))) & mask(wideSize);
        v = s >>> (8 << size);
      }
      outs.push(v);
    }
    for (let e = 0; e < half; e++) setLaneAt(c, d, size, off + e, outs[e]);
    if (!q) for (let k = 8; k < 16; k++) c.vb[(d << 4) + k] = 0;
    return;
  }
  const wideA = op === 1 || op === 3;
  const a: number[] = [];
  const b: number[] = [];
  for (let e = 0; e < half; e++) {
    a.push(
      wideA
        ? size === 2
          ? 0
          : sgn
            ? signed(lane(c, n, wideSize, e), wideSize)
            : lane(c, n, wideSize, e)
        : sgn
          ? signed(lane(c, n, size, off + e), size)
          : lane(c, n, size, off + e),
    );
    b.push(sgn ? signed(lane(c, m, size, off + e), size) : lane(c, m, size, off + e));
  }
  if (size === 2) {
    const A = wideA ? read64(c, n, 2, sgn) : a.map((v) => BigInt(v));
    const B = b.map((v) => BigInt(v));
    const acc = read64(c, d, 2);
    const r: bigint[] = [];
    for (let e = 0; e < 2; e++) r.push(wideOp64(i, op, A[e], B[e], acc[e]));
    write64(c, d, r, 16);
    return;
  }
  const acc = read(c, d, wideSize, half);
  const r: number[] = [];
  for (let e = 0; e < half; e++) {
    const x = a[e];
    const y = b[e];
    let v: number;
    switch (op) {
      case 0:
      case 1:
        v = x + y;
        break;
      case 2:
      case 3:
        v = x - y;
        break;
      case 5:
        v = acc[e] + Math.abs(x - y);
        break;
      case 7:
        v = Math.abs(x - y);
        break;
      case 8:
        v = acc[e] + x * y;
        break;
      case 10:
        v = acc[e] - x * y;
        break;
      case 12:
        v = x * y;
        break;
      default:
        throw new UndefinedInstruction(i, 'SIMD three-different operation not implemented');
    }
    r.push(wideSize === 2 ? v >>> 0 : v & mask(wideSize));
  }
  write(c, d, wideSize, r, 16);
}

function wideOp64(i: number, op: number, x: bigint, y: bigint, acc: bigint): bigint {
  switch (op) {
    case 0:
    case 1:
      return x + y;
    case 2:
    case 3:
      return x - y;
    case 5:
      return acc + (x > y ? x - y : y - x);
    case 7:
      return x > y ? x - y : y - x;
    case 8:
      return acc + x * y;
    case 10:
      return acc - x * y;
    case 12:
      return x * y;
  }
  throw new UndefinedInstruction(i, 'SIMD three-different operation not implemented');
}

function copy(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const op = (i >>> 29) & 1;
  const imm5 = (i >>> 16) & 31;
  const imm4 = (i >>> 11) & 15;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const size = imm5 & 1 ? 0 : imm5 & 2 ? 1 : imm5 & 4 ? 2 : imm5 & 8 ? 3 : -1;
  if (size < 0) throw new UndefinedInstruction(i);
  const index = imm5 >>> (size + 1);
  const bytes = q ? 16 : 8;
  const esz = 1 << size;
  if (op === 1) {
    // INS (element)
    if (!q) throw new UndefinedInstruction(i);
    const src = imm4 >>> size;
    const tmp = c.vb.slice((n << 4) + src * esz, (n << 4) + src * esz + esz);
    c.vb.set(tmp, (d << 4) + index * esz);
    return;
  }
  switch (imm4) {
    case 0: {
      // DUP (element)
      if (size === 3 && !q) throw new UndefinedInstruction(i);
      const tmp = c.vb.slice((n << 4) + index * esz, (n << 4) + index * esz + esz);
      for (let k = 0; k < bytes; k += esz) c.vb.set(tmp, (d << 4) + k);
      for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
      return;
    }
    case 1: {
      // DUP (general)
      if (size === 3 && !q) throw new UndefinedInstruction(i);
      const lo = c.x[n << 1];
      const hi = c.x[(n << 1) | 1];
      for (let k = 0; k < bytes; k += esz) {
        for (let b = 0; b < esz; b++)
          c.vb[(d << 4) + k + b] = b < 4 ? (lo >>> (8 * b)) & 0xff : (hi >>> (8 * (b - 4))) & 0xff;
      }
      for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
      return;
    }
    case 3: {
      // INS (general)
      if (!q) throw new UndefinedInstruction(i);
      const lo = c.x[n << 1];
      const hi = c.x[(n << 1) | 1];
      for (let b = 0; b < esz; b++)
        c.vb[(d << 4) + index * esz + b] = b < 4 ? (lo >>> (8 * b)) & 0xff : (hi >>> (8 * (b - 4))) & 0xff;
      return;
    }
    case 5:
    case 7: {
      // SMOV / UMOV
      const sgn = imm4 === 5;
      if (sgn && (size === 3 || (size === 2 && !q))) throw new UndefinedInstruction(i);
      if (!sgn && (size === 3) !== (q === 1)) throw new UndefinedInstruction(i);
      if (size === 3) {
        const v = lane64(c, n, index);
        setX(c, d, Number(v & 0xffffffffn), Number(v >> 32n));
        return;
      }
      let v = lane(c, n, size, index);
      if (sgn) {
        v = signed(v, size);
        if (q) setX(c, d, v >>> 0, (v >> 31) >>> 0);
        else setX(c, d, v >>> 0, 0);
      } else setX(c, d, v >>> 0, 0);
      return;
    }
  }
  throw new UndefinedInstruction(i);
}

function modifiedImm(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const op = (i >>> 29) & 1;
  const cmode = (i >>> 12) & 15;
  const o2 = (i >>> 11) & 1;
  const d = i & 31;
  const imm8 = (((i >>> 16) & 7) << 5) | ((i >>> 5) & 31);
  if (o2) throw new UndefinedInstruction(i, 'FMOV (vector, half precision) not implemented');
  // Build the 64-bit pattern as two words.
  let lo = 0;
  let hi = 0;
  let kind: 'mov' | 'orr' | 'bic' = 'mov';
  let invert = op === 1;
  switch (cmode >>> 1) {
    case 0:
    case 1:
    case 2:
    case 3: {
      const sh = 8 * (cmode >>> 1);
      lo = hi = (imm8 << sh) >>> 0;
      if (cmode & 1) kind = op ? 'bic' : 'orr';
      break;
    }
    case 4:
    case 5: {
      const sh = 8 * ((cmode >>> 1) & 1);
      const h = (imm8 << sh) & 0xffff;
      lo = hi = ((h << 16) | h) >>> 0;
      if (cmode & 1) kind = op ? 'bic' : 'orr';
      break;
    }
    case 6: {
      const v = cmode & 1 ? (imm8 << 16) | 0xffff : (imm8 << 8) | 0xff;
      lo = hi = v >>> 0;
      break;
    }
    default:
      if (cmode === 14 && op === 0) {
        const b = imm8 * 0x01010101;
        lo = hi = b >>> 0;
      } else if (cmode === 14) {
        invert = false;
        let l = 0;
        let h = 0;
        for (let k = 0; k < 4; k++) if ((imm8 >>> k) & 1) l |= 0xff << (8 * k);
        for (let k = 0; k < 4; k++) if ((imm8 >>> (k + 4)) & 1) h |= 0xff << (8 * k);
        lo = l >>> 0;
        hi = h >>> 0;
      } else if (op === 0) {
        // FMOV (vector, single)
        const f = new Float32Array([expandImm8(imm8)]);
        lo = hi = new Uint32Array(f.buffer)[0];
      } else {
        if (!q) throw new UndefinedInstruction(i);
        const f = new Float64Array([expandImm8(imm8)]);
        const w = new Uint32Array(f.buffer);
        lo = w[0];
        hi = w[1];
        invert = false;
      }
      invert = cmode === 15 || cmode === 14 ? false : invert;
  }
  if (invert && kind === 'mov') {
    lo = ~lo >>> 0;
    hi = ~hi >>> 0;
  }
  const base = d << 2;
  const words = q ? 4 : 2;
  for (let w = 0; w < words; w++) {
    const v = w & 1 ? hi : lo;
    if (kind === 'orr') c.vw[base + w] = c.vw[base + w] | v;
    else if (kind === 'bic') c.vw[base + w] = c.vw[base + w] & ~v;
    else c.vw[base + w] = v;
  }
  if (!q) {
    c.vw[base + 2] = 0;
    c.vw[base + 3] = 0;
  }
}

function shiftImm(c: Cpu, i: number, scalar = false): void {
  const q = scalar ? 0 : (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const immh = (i >>> 19) & 15;
  const immb = (i >>> 16) & 7;
  const op = (i >>> 11) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const size = 31 - Math.clz32(immh);
  const esize = 8 << size;
  const imm = (immh << 3) | immb;
  const rshift = 2 * esize - imm;
  const lshift = imm - esize;
  const bytes = scalar ? 8 : q ? 16 : 8;
  if (scalar && size !== 3 && op !== 0b11100 && op !== 0b11111) throw new UndefinedInstruction(i);
  if (!scalar && size === 3 && !q) throw new UndefinedInstruction(i);
  if (op === 0b10100) {
    // SSHLL / USHLL
    if (size === 3) throw new UndefinedInstruction(i);
    const half = 8 >>> size;
    const src = read(c, n, size, 16 >>> size, u === 0).slice(q ? half : 0, (q ? half : 0) + half);
    if (size === 2)
      write64(
        c,
        d,
        src.map((v) => BigInt(v) << BigInt(lshift)),
        16,
      );
    else
      write(
        c,
        d,
        size + 1,
        src.map((v) => (v * 2 ** lshift) & mask(size + 1)),
        16,
      );
    return;
  }
  if (op === 0b10000 || op === 0b10001) {
    // SHRN / RSHRN (U=0); SQSHRUN etc. not implemented
    if (u || size === 3) throw new UndefinedInstruction(i, 'saturating narrow shift not implemented');
    const wide = size + 1;
    const half = 8 >>> size;
    const round = op === 0b10001;
    const outs: number[] = [];
    for (let e = 0; e < half; e++) {
      let v: number;
      if (wide === 3) {
        let x = lane64(c, n, e);
        if (round) x += 1n << BigInt(rshift - 1);
        v = Number((x >> BigInt(rshift)) & 0xffffffffn);
      } else {
        const x = lane(c, n, wide, e) + (round ? 2 ** (rshift - 1) : 0);
        v = Math.floor(x / 2 ** rshift) & mask(size);
      }
      outs.push(v >>> 0);
    }
    const off = q ? half : 0;
    for (let e = 0; e < half; e++) setLaneAt(c, d, size, off + e, outs[e]);
    if (!q) for (let k = 8; k < 16; k++) c.vb[(d << 4) + k] = 0;
    return;
  }
  if (op === 0b11100 || op === 0b11111) {
    // SCVTF/UCVTF/FCVTZS/FCVTZU (fixed point)
    if (size < 2) throw new UndefinedInstruction(i, 'half precision not implemented');
    const dbl = size === 3;
    const count = scalar ? 1 : bytes / (dbl ? 8 : 4);
    const fb = rshift;
    const outBytes = scalar ? (dbl ? 8 : 4) : bytes;
    if (op === 0b11100) {
      const ints = dbl ? read64(c, n, count, u === 0) : read(c, n, 2, count, u === 0).map((v) => BigInt(v));
      writeF(
        c,
        d,
        dbl,
        ints.map((v) => (v === 0n ? 0 : roundExact(v < 0n, v < 0n ? -v : v, -fb, dbl ? F64 : F32, rmode(c)))),
        outBytes,
      );
    } else {
      const x = readF(c, n, dbl, count).map((v) => toInt(v * 2 ** fb, esize, u === 0, RZ));
      writeIntLanes(c, d, dbl, x, outBytes);
    }
    return;
  }
  if (size === 3) {
    if (!q && !scalar) throw new UndefinedInstruction(i);
    const count = scalar ? 1 : 2;
    const a = read64(c, n, count, u === 0);
    const dd = read64(c, d, count);
    const r: bigint[] = [];
    for (let e = 0; e < count; e++) {
      const x = a[e];
      let v: bigint;
      switch (op) {
        case 0b00000:
          v = x >> BigInt(Math.min(rshift, 63));
          if (rshift === 64 && u) v = 0n;
          break;
        case 0b00010:
          v = dd[e] + (rshift === 64 && u ? 0n : x >> BigInt(Math.min(rshift, 63)));
          break;
        case 0b00100:
        case 0b00110:
          v = (x + (1n << BigInt(rshift - 1))) >> BigInt(rshift);
          if (op === 0b00110) v += dd[e];
          break;
        case 0b01010:
          if (u) {
            const msk = (M64 << BigInt(lshift)) & M64;
            v = (dd[e] & ~msk) | ((x << BigInt(lshift)) & msk);
          } else v = x << BigInt(lshift);
          break;
        case 0b01000:
          if (!u) throw new UndefinedInstruction(i);
          {
            const msk = rshift === 64 ? 0n : M64 >> BigInt(rshift);
            v = (dd[e] & ~msk) | ((BigInt.asUintN(64, x) >> BigInt(rshift === 64 ? 63 : rshift)) & msk);
          }
          break;
        default:
          throw new UndefinedInstruction(i, 'SIMD shift operation not implemented');
      }
      r.push(v);
    }
    write64(c, d, r, scalar ? 8 : 16);
    return;
  }
  const count = bytes >>> size;
  const a = read(c, n, size, count, u === 0);
  const dd = read(c, d, size, count);
  const msk = mask(size);
  const r = new Array<number>(count);
  for (let e = 0; e < count; e++) {
    const x = a[e];
    let v: number;
    switch (op) {
      case 0b00000:
        v = Math.floor(x / 2 ** rshift);
        break;
      case 0b00010:
        v = dd[e] + Math.floor(x / 2 ** rshift);
        break;
      case 0b00100:
        v = Math.floor((x + 2 ** (rshift - 1)) / 2 ** rshift);
        break;
      case 0b00110:
        v = dd[e] + Math.floor((x + 2 ** (rshift - 1)) / 2 ** rshift);
        break;
      case 0b01010:
        if (u) {
          const m2 = (msk * 2 ** lshift) % 2 ** esize;
          v = (dd[e] & ~m2) | ((x * 2 ** lshift) % 2 ** esize & m2);
        } else v = (x * 2 ** lshift) % 2 ** esize;
        break;
      case 0b01000: {
        if (!u) throw new UndefinedInstruction(i);
        const m2 = rshift === esize ? 0 : Math.floor(msk / 2 ** rshift);
        v = (dd[e] & ~m2) | (Math.floor(x / 2 ** rshift) & m2);
        break;
      }
      default:
        throw new UndefinedInstruction(i, 'SIMD shift operation not implemented');
    }
    r[e] = size === 2 ? v >>> 0 : v & msk;
  }
  write(c, d, size, r, bytes);
}

function permute(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 12) & 7;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  if (size === 3 && !q) throw new UndefinedInstruction(i);
  const bytes = q ? 16 : 8;
  const esz = 1 << size;
  const count = bytes / esz;
  const a = c.vb.slice(n << 4, (n << 4) + 16);
  const b = c.vb.slice(m << 4, (m << 4) + 16);
  const out = new Uint8Array(16);
  const put = (dst: number, src: Uint8Array, e: number): void => {
    for (let k = 0; k < esz; k++) out[dst * esz + k] = src[e * esz + k];
  };
  const part = op >>> 2; // 0: 1, 1: 2
  const half = count / 2;
  switch (op & 3) {
    case 1: // UZP
      for (let e = 0; e < half; e++) {
        put(e, a, 2 * e + part);
        put(half + e, b, 2 * e + part);
      }
      break;
    case 2: // TRN
      for (let p = 0; p < half; p++) {
        put(2 * p, a, 2 * p + part);
        put(2 * p + 1, b, 2 * p + part);
      }
      break;
    case 3: // ZIP
      for (let p = 0; p < half; p++) {
        put(2 * p, a, p + part * half);
        put(2 * p + 1, b, p + part * half);
      }
      break;
    default:
      throw new UndefinedInstruction(i);
  }
  c.vb.set(out.subarray(0, bytes), d << 4);
  for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
}

function ext(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const pos = (i >>> 11) & 15;
  if (((i >>> 22) & 3) !== 0 || (!q && pos > 7)) throw new UndefinedInstruction(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const bytes = q ? 16 : 8;
  const cat = new Uint8Array(32);
  cat.set(c.vb.subarray(n << 4, (n << 4) + bytes), 0);
  cat.set(c.vb.subarray(m << 4, (m << 4) + bytes), bytes);
  c.vb.set(cat.subarray(pos, pos + bytes), d << 4);
  for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
}

function tbl(c: Cpu, i: number): void {
  if (((i >>> 22) & 3) !== 0) throw new UndefinedInstruction(i);
  const q = (i >>> 30) & 1;
  const len = ((i >>> 13) & 3) + 1;
  const isTbx = ((i >>> 12) & 1) === 1;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const bytes = q ? 16 : 8;
  const table = new Uint8Array(16 * len);
  for (let r = 0; r < len; r++)
    table.set(c.vb.subarray(((n + r) & 31) << 4, (((n + r) & 31) << 4) + 16), r * 16);
  const idx = c.vb.slice(m << 4, (m << 4) + 16);
  const out = c.vb.slice(d << 4, (d << 4) + 16);
  for (let e = 0; e < bytes; e++) {
    const k = idx[e];
    if (k < 16 * len) out[e] = table[k];
    else if (!isTbx) out[e] = 0;
  }
  c.vb.set(out.subarray(0, bytes), d << 4);
  for (let k = bytes; k < 16; k++) c.vb[(d << 4) + k] = 0;
}

function byElement(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const L = (i >>> 21) & 1;
  const M = (i >>> 20) & 1;
  const H = (i >>> 11) & 1;
  const op = (i >>> 12) & 15;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  let m = (i >>> 16) & 15;
  const bytes = q ? 16 : 8;
  if (op === 1 || op === 5 || op === 9) {
    // FMLA / FMLS / FMUL (by element)
    if (size < 2) throw new UndefinedInstruction(i, 'half precision not implemented');
    const dbl = size === 3;
    if ((dbl && (L || !q)) || (u && op !== 9)) throw new UndefinedInstruction(i);
    m |= M << 4;
    const index = dbl ? H : (H << 1) | L;
    const count = bytes / (dbl ? 8 : 4);
    const el = dbl ? c.vf64[(m << 1) + index] : c.vf32[(m << 2) + index];
    const x = readF(c, n, dbl, count);
    const acc = readF(c, d, dbl, count);
    if (op === 9 && u) throw new UndefinedInstruction(i, 'FMULX not implemented');
    const r = x.map((v, e) => {
      if (v !== v || el !== el || (op !== 9 && acc[e] !== acc[e])) {
        if (
          op !== 9 &&
          acc[e] !== acc[e] &&
          ((v === 0 && Math.abs(el) === Infinity) || (el === 0 && Math.abs(v) === Infinity)) &&
          nanQuiet(c, d, e, dbl)
        )
          return NaN;
        const ops: [number, number, boolean][] =
          op === 9
            ? [
                [n, e, false],
                [m, index, false],
              ]
            : [
                [d, e, false],
                [n, e, op === 5],
                [m, index, false],
              ];
        laneNaN(c, d, e, dbl, ops);
        return 0;
      }
      return op === 9 ? fpBinary(c, 0, v, el, dbl) : fmaLane(c, op === 5 ? -v : v, el, acc[e], dbl);
    });
    writeF(c, d, dbl, r, bytes);
    flushNaN(c);
    return;
  }
  if (size === 0 || size === 3) throw new UndefinedInstruction(i);
  let index: number;
  if (size === 1) index = (H << 2) | (L << 1) | M;
  else {
    index = (H << 1) | L;
    m |= M << 4;
  }
  const el = lane(c, m, size, index);
  const sgn = u === 0;
  if ((op === 8 && !u) || (op === 0 && u) || (op === 4 && u)) {
    // MUL / MLA / MLS
    const count = bytes >>> size;
    const x = read(c, n, size, count);
    const acc = read(c, d, size, count);
    const r = x.map((v, e) => {
      const p = size === 2 ? Math.imul(v, el) : v * el;
      const res = op === 8 ? p : op === 0 ? acc[e] + p : acc[e] - p;
      return size === 2 ? res >>> 0 : res & mask(size);
    });
    write(c, d, size, r, bytes);
    return;
  }
  if (op === 10 || op === 2 || op === 6) {
    // SMULL/UMULL/SMLAL/UMLAL/SMLSL/UMLSL (by element)
    const half = 8 >>> size;
    const src = read(c, n, size, 16 >>> size, sgn).slice(q ? half : 0, (q ? half : 0) + half);
    const e2 = sgn ? signed(el, size) : el;
    if (size === 2) {
      const acc = read64(c, d, 2);
      write64(
        c,
        d,
        src.map((v, e) => {
          const p = BigInt(v) * BigInt(e2);
          return op === 10 ? p : op === 2 ? acc[e] + p : acc[e] - p;
        }),
        16,
      );
    } else {
      const acc = read(c, d, 2, 4);
      write(
        c,
        d,
        2,
        src.map((v, e) => {
          const p = v * e2;
          return (op === 10 ? p : op === 2 ? acc[e] + p : acc[e] - p) >>> 0;
        }),
        16,
      );
    }
    return;
  }
  throw new UndefinedInstruction(i, 'SIMD by-element operation not implemented');
}

// --- Scalar forms ---

const SCALAR_FP3 = new Set([0b0011100, 0b1011100, 0b1011101, 0b1111010, 0b1111100, 0b1111101]);

function scalarThreeSame(c: Cpu, i: number): void {
  const op = (i >>> 11) & 31;
  const size = (i >>> 22) & 3;
  if (op >= 24) {
    const u = (i >>> 29) & 1;
    const a = (i >>> 23) & 1;
    const dbl = ((i >>> 22) & 1) === 1;
    const key = (u << 6) | (a << 5) | op;
    // Scalar FP three-same: compares and FABD only (FMULX, FRECPS, FRSQRTS not implemented).
    if (!SCALAR_FP3.has(key)) throw new UndefinedInstruction(i, 'scalar FP operation not implemented');
    fpLanes(c, i, key, i & 31, (i >>> 5) & 31, (i >>> 16) & 31, dbl, 1, dbl ? 8 : 4);
    return;
  }
  if (size !== 3) throw new UndefinedInstruction(i, 'scalar saturating operation not implemented');
  threeSame64(c, i, 1);
}

function scalarPairwise(c: Cpu, i: number): void {
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 12) & 31;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  if (!u && op === 0b11011 && size === 3) {
    // ADDP (scalar)
    write64(c, d, [lane64(c, n, 0) + lane64(c, n, 1)], 8);
    return;
  }
  if (u) {
    const dbl = (size & 1) === 1;
    const x = readF(c, n, dbl, 2);
    const min = (size & 2) !== 0;
    if (op !== 0b01101 && op !== 0b01100 && op !== 0b01111) throw new UndefinedInstruction(i);
    if (op === 0b01101 && min) throw new UndefinedInstruction(i);
    const nm = op === 0b01100;
    const qa = x[0] !== x[0] && nanQuiet(c, n, 0, dbl);
    const qb = x[1] !== x[1] && nanQuiet(c, n, 1, dbl);
    if ((x[0] !== x[0] || x[1] !== x[1]) && !(nm && ((qa && x[1] === x[1]) || (qb && x[0] === x[0])))) {
      laneNaN(c, d, 0, dbl, [
        [n, 0, false],
        [n, 1, false],
      ]);
      writeF(c, d, dbl, [0], dbl ? 8 : 4);
      flushNaN(c);
      return;
    }
    let v: number;
    if (op === 0b01101 && !min) v = fpBinary(c, 2, x[0], x[1], dbl);
    else if (op === 0b01100)
      v = x[0] !== x[0] ? x[1] : x[1] !== x[1] ? x[0] : fpBinary(c, min ? 7 : 6, x[0], x[1], dbl);
    else if (op === 0b01111)
      v = x[0] !== x[0] || x[1] !== x[1] ? NaN : fpBinary(c, min ? 5 : 4, x[0], x[1], dbl);
    else throw new UndefinedInstruction(i);
    writeF(c, d, dbl, [v], dbl ? 8 : 4);
    return;
  }
  throw new UndefinedInstruction(i);
}

function scalarCopy(c: Cpu, i: number): void {
  // DUP (element), scalar: MOV Vd, Vn.T[index]
  const imm5 = (i >>> 16) & 31;
  if (((i >>> 11) & 15) !== 0 || ((i >>> 29) & 1) !== 0) throw new UndefinedInstruction(i);
  const size = imm5 & 1 ? 0 : imm5 & 2 ? 1 : imm5 & 4 ? 2 : imm5 & 8 ? 3 : -1;
  if (size < 0) throw new UndefinedInstruction(i);
  const index = imm5 >>> (size + 1);
  const esz = 1 << size;
  const n = (i >>> 5) & 31;
  const d = i & 31;
  const tmp = c.vb.slice((n << 4) + index * esz, (n << 4) + index * esz + esz);
  c.vb.fill(0, d << 4, (d << 4) + 16);
  c.vb.set(tmp, d << 4);
}

function scalarTwoMisc(c: Cpu, i: number): void {
  const u = (i >>> 29) & 1;
  const size = (i >>> 22) & 3;
  const op = (i >>> 12) & 31;
  if (op >= 12) {
    // Scalar FP: conversions and compares with zero only.
    if ((op >= 0b11010 && op <= 0b11101) || (op >= 0b01100 && op <= 0b01110 && size >= 2))
      return fpTwoMisc(c, i, true);
    throw new UndefinedInstruction(i, 'scalar operation not implemented');
  }
  if (size !== 3) throw new UndefinedInstruction(i, 'scalar saturating operation not implemented');
  void u;
  twoMisc64(c, i, 1);
}

function scalarShift(c: Cpu, i: number): void {
  shiftImm(c, i, true);
}

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'simd',
  name,
  mask,
  value,
  fn,
});

export const SIMD: InsnDef[] = [
  d('SIMD three same', 0x9f200400, 0x0e200400, threeSame),
  d('SIMD three different', 0x9f200c00, 0x0e200000, threeDifferent),
  d('SIMD two-register misc', 0x9f3e0c00, 0x0e200800, twoMisc),
  d('SIMD across lanes', 0x9f3e0c00, 0x0e300800, acrossLanes),
  d('SIMD copy', 0x9fe08400, 0x0e000400, copy),
  d('SIMD modified immediate', 0x9ff80400, 0x0f000400, modifiedImm),
  d('SIMD shift by immediate', 0x9f800400, 0x0f000400, shiftImm),
  d('SIMD permute', 0xbf208c00, 0x0e000800, permute),
  d('SIMD EXT', 0xbf208400, 0x2e000000, ext),
  d('SIMD TBL/TBX', 0xbf208c00, 0x0e000000, tbl),
  d('SIMD by element', 0x9f000400, 0x0f000000, byElement),
  d('SIMD scalar three same', 0xdf200400, 0x5e200400, scalarThreeSame),
  d('SIMD scalar pairwise', 0xdf3e0c00, 0x5e300800, scalarPairwise),
  d('SIMD scalar two-register misc', 0xdf3e0c00, 0x5e200800, scalarTwoMisc),
  d('SIMD scalar copy', 0xdfe08400, 0x5e000400, scalarCopy),
  d('SIMD scalar shift by immediate', 0xdf800400, 0x5f000400, scalarShift),
];
