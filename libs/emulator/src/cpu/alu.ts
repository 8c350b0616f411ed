/**
 * 64-bit integer arithmetic on uint32 halves. Results of 64-bit helpers land in cpu.rlo/cpu.rhi so
 * the hot path allocates nothing.
 */
import type { Cpu } from './cpu';

/** Reads register n (31 = zero register) low/high halves. */
export const XLO = (c: Cpu, n: number): number => c.x[n << 1];
export const XHI = (c: Cpu, n: number): number => c.x[(n << 1) | 1];

/** Writes Xd (31 = discard). */
export function setX(c: Cpu, d: number, lo: number, hi: number): void {
  if (d !== 31) {
    c.x[d << 1] = lo;
    c.x[(d << 1) | 1] = hi;
  }
}

/** Writes Wd, zeroing the top half (31 = discard). */
export function setW(c: Cpu, d: number, v: number): void {
  if (d !== 31) {
    c.x[d << 1] = v;
    c.x[(d << 1) | 1] = 0;
  }
}

/** Register index in `x` for a register operand where 31 means SP. */
export const spIdx = (n: number): number => (n === 31 ? 64 : n << 1);

/** Writes Xd where 31 means SP. */
export function setXsp(c: Cpu, d: number, lo: number, hi: number): void {
  const i = d === 31 ? 64 : d << 1;
  c.x[i] = lo;
  c.x[i + 1] = hi;
}

/** AddWithCarry on 64 bits; flags set when `flags`. */
export function add64(
  c: Cpu,
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
  cin: number,
  flags: boolean,
): void {
  const l = alo + blo + cin;
  const lo = l >>> 0;
  const h = ahi + bhi + (l > 0xffffffff ? 1 : 0);
  const hi = h >>> 0;
  c.rlo = lo;
  c.rhi = hi;
  if (flags) {
    c.n = hi >>> 31;
    c.z = (lo | hi) === 0 ? 1 : 0;
    c.c = h > 0xffffffff ? 1 : 0;
    c.v = (((ahi ^ hi) & (bhi ^ hi)) >>> 31) & 1;
  }
}

/** AddWithCarry on 32 bits; returns the result. */
export function add32(c: Cpu, a: number, b: number, cin: number, flags: boolean): number {
  const s = a + b + cin;
  const r = s >>> 0;
  if (flags) {
    c.n = r >>> 31;
    c.z = r === 0 ? 1 : 0;
    c.c = s > 0xffffffff ? 1 : 0;
    c.v = (((a ^ r) & (b ^ r)) >>> 31) & 1;
  }
  return r;
}

/** Shift of a 64-bit value by 0..63: 0 LSL, 1 LSR, 2 ASR, 3 ROR. */
export function shift64(c: Cpu, type: number, lo: number, hi: number, s: number): void {
  if (s === 0) {
    c.rlo = lo;
    c.rhi = hi;
    return;
  }
  switch (type) {
    case 0:
      if (s < 32) {
        c.rhi = ((hi << s) | (lo >>> (32 - s))) >>> 0;
        c.rlo = (lo << s) >>> 0;
      } else {
        c.rhi = (lo << (s - 32)) >>> 0;
        c.rlo = 0;
      }
      return;
    case 1:
      if (s < 32) {
        c.rlo = ((lo >>> s) | (hi << (32 - s))) >>> 0;
        c.rhi = hi >>> s;
      } else {
        c.rlo = hi >>> (s - 32);
        c.rhi = 0;
      }
      return;
    case 2:
      if (s < 32) {
        c.rlo = ((lo >>> s) | (hi << (32 - s))) >>> 0;
        c.rhi = (hi >> s) >>> 0;
      } else {
        c.rlo = (hi >> (s - 32)) >>> 0;
        c.rhi = (hi >> 31) >>> 0;
      }
      return;
    default:
      if (s === 32) {
        c.rlo = hi;
        c.rhi = lo;
      } else if (s < 32) {
        c.rlo = ((lo >>> s) | (hi << (32 - s))) >>> 0;
        c.rhi = ((hi >>> s) | (lo << (32 - s))) >>> 0;
      } else {
        const t = s - 32;
        c.rlo = ((hi >>> t) | (lo << (32 - t))) >>> 0;
        c.rhi = ((lo >>> t) | (hi << (32 - t))) >>> 0;
      }
  }
}

/** Shift of a 32-bit value by 0..31. */
export function shift32(type: number, v: number, s: number): number {
  if (s === 0) return v >>> 0;
  switch (type) {
    case 0:
      return (v << s) >>> 0;
    case 1:
      return v >>> s;
    case 2:
      return (v >> s) >>> 0;
    default:
      return ((v >>> s) | (v << (32 - s))) >>> 0;
  }
}

/** Unsigned 32x32 → 64 product into rlo/rhi. */
export function umul32(c: Cpu, a: number, b: number): void {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid = a0 * b1 + a1 * b0;
  const t = a0 * b0 + (mid % 65536) * 65536;
  const lo = t >>> 0;
  c.rlo = lo;
  c.rhi = (a1 * b1 + Math.floor(mid / 65536) + (t - lo) / 4294967296) >>> 0;
}

/** Low 64 bits of a 64x64 product into rlo/rhi. */
export function mul64(c: Cpu, alo: number, ahi: number, blo: number, bhi: number): void {
  umul32(c, alo, blo);
  c.rhi = (c.rhi + Math.imul(alo, bhi) + Math.imul(ahi, blo)) >>> 0;
}

export const toBig = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);
export const toSBig = (lo: number, hi: number): bigint => BigInt.asIntN(64, toBig(lo, hi));

export function fromBig(c: Cpu, v: bigint): void {
  c.rlo = Number(v & 0xffffffffn);
  c.rhi = Number((v >> 32n) & 0xffffffffn);
}

/** Extends a register value (option: UXTB..SXTX) and shifts it left by 0..4, into rlo/rhi. */
export function extend(c: Cpu, option: number, lo: number, hi: number, sh: number): void {
  switch (option) {
    case 0:
      lo &= 0xff;
      hi = 0;
      break;
    case 1:
      lo &= 0xffff;
      hi = 0;
      break;
    case 2:
      hi = 0;
      break;
    case 3:
      break;
    case 4:
      lo = (lo << 24) >> 24;
      hi = lo >> 31;
      break;
    case 5:
      lo = (lo << 16) >> 16;
      hi = lo >> 31;
      break;
    case 6:
      hi = lo >> 31;
      break;
    default:
      break;
  }
  shift64(c, 0, lo >>> 0, hi >>> 0, sh);
}

export function conditionHolds(c: Cpu, cond: number): boolean {
  let r: boolean;
  switch (cond >>> 1) {
    case 0:
      r = c.z === 1;
      break;
    case 1:
      r = c.c === 1;
      break;
    case 2:
      r = c.n === 1;
      break;
    case 3:
      r = c.v === 1;
      break;
    case 4:
      r = c.c === 1 && c.z === 0;
      break;
    case 5:
      r = c.n === c.v;
      break;
    case 6:
      r = c.n === c.v && c.z === 0;
      break;
    default:
      return true;
  }
  return (cond & 1) === 1 ? !r : r;
}

/** Adds a signed JS-number offset (|off| < 2^52) to a 64-bit value, into rlo/rhi. */
export function addOffset(c: Cpu, lo: number, hi: number, off: number): void {
  const s = lo + off;
  const l = s >>> 0;
  c.rlo = l;
  c.rhi = (hi + (s - l) / 4294967296) >>> 0;
}

export function clz32(v: number): number {
  return Math.clz32(v);
}

export function rbit32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

export function bswap16x2(v: number): number {
  return (((v & 0x00ff00ff) << 8) | ((v >>> 8) & 0x00ff00ff)) >>> 0;
}

export const sext = (v: number, bits: number): number => (v << (32 - bits)) >> (32 - bits);
