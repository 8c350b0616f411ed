/**
 * IEEE 754 helpers the host's doubles cannot give directly: ARM NaN rules, exact rounding in the
 * four FPCR rounding modes (through BigInt, only off the fast round-to-nearest path), fused
 * multiply-add, conversions with saturation.
 */

export const RN = 0;
export const RP = 1;
export const RM = 2;
export const RZ = 3;
/** Ties away from zero (FRINTA/FCVTA*), not an FPCR mode. */
export const RA = 4;

export interface Format {
  /** Precision in bits, including the implicit one. */
  p: number;
  emin: number;
  emax: number;
}
export const F64: Format = { p: 53, emin: -1022, emax: 1023 };
export const F32: Format = { p: 24, emin: -126, emax: 127 };

const scratch = new DataView(new ArrayBuffer(8));

export function f64bits(v: number): bigint {
  scratch.setFloat64(0, v, true);
  return scratch.getBigUint64(0, true);
}

/** |v| = mant * 2^exp for a finite v. */
export function decompose(v: number): { mant: bigint; exp: number } {
  scratch.setFloat64(0, v, true);
  const hi = scratch.getUint32(4, true);
  const lo = scratch.getUint32(0, true);
  const e = (hi >>> 20) & 0x7ff;
  const m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (e === 0) return { mant: m, exp: -1074 };
  return { mant: m | (1n << 52n), exp: e - 1075 };
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/** Rounds (-1)^neg * mant * 2^exp to the format in `mode`; returns a JS number (±Infinity on overflow). */
export function roundExact(neg: boolean, mant: bigint, exp: number, f: Format, mode: number): number {
  if (mant === 0n) return neg ? -0 : 0;
  const e = exp + bitLength(mant) - 1;
  const q = Math.max(e, f.emin) - (f.p - 1);
  let m: bigint;
  if (q > exp) {
    const shift = BigInt(q - exp);
    m = mant >> shift;
    const rem = mant & ((1n << shift) - 1n);
    const half = 1n << (shift - 1n);
    let up = false;
    if (rem !== 0n) {
      switch (mode) {
        case RN:
          up = rem > half || (rem === half && (m & 1n) === 1n);
          break;
        case RA:
          up = rem >= half;
          break;
        case RP:
          up = !neg;
          break;
        case RM:
          up = neg;
          break;
        default:
          up = false;
      }
    }
    if (up) m += 1n;
  } else {
    m = mant << BigInt(exp - q);
  }
  let r = Number(m) * 2 ** q;
  if (q > f.emax - f.p + 1 || r > maxFinite(f)) {
    r = overflow(f, mode, neg);
    return neg ? -r : r;
  }
  return neg ? -r : r;
}

function maxFinite(f: Format): number {
  return (2 - 2 ** (1 - f.p)) * 2 ** f.emax;
}

function overflow(f: Format, mode: number, neg: boolean): number {
  if (mode === RZ || (mode === RP && neg) || (mode === RM && !neg)) return maxFinite(f);
  return Infinity;
}

/** Exact a*b + c rounded once (inputs finite or infinite, not NaN). */
export function fma(a: number, b: number, c: number, f: Format, mode: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a * b + c;
  // An infinite addend wins over any finite product (whose double rounding might overflow).
  if (!Number.isFinite(c)) return c;
  const pNeg = a < 0 !== b < 0 || (a === 0 && Object.is(a, -0) !== Object.is(b, -0) && b === 0);
  const productZero = a === 0 || b === 0;
  if (productZero && c === 0) {
    const prodNeg = (Object.is(a, -0) || a < 0) !== (Object.is(b, -0) || b < 0);
    const cNeg = Object.is(c, -0);
    if (prodNeg === cNeg) return cNeg ? -0 : 0;
    return mode === RM ? -0 : 0;
  }
  if (productZero) return c;
  const da = decompose(a);
  const db = decompose(b);
  const pm = da.mant * db.mant;
  const pe = da.exp + db.exp;
  const pv = pNeg ? -pm : pm;
  let sum: bigint;
  let e: number;
  if (c === 0) {
    sum = pv;
    e = pe;
  } else {
    const dc = decompose(c);
    const cv = c < 0 ? -dc.mant : dc.mant;
    e = Math.min(pe, dc.exp);
    sum = (pv << BigInt(pe - e)) + (cv << BigInt(dc.exp - e));
  }
  if (sum === 0n) return mode === RM ? -0 : 0;
  return roundExact(sum < 0n, sum < 0n ? -sum : sum, e, f, mode);
}

/** a op b with op in + - * / and sqrt, rounded in `mode` (used when mode is not round-to-nearest). */
export function arith(op: string, a: number, b: number, f: Format, mode: number): number {
  const bb = op === '-' ? -b : b;
  if ((op === '+' || op === '-') && a === 0 && bb === 0) {
    const na = Object.is(a, -0);
    if (na === Object.is(bb, -0)) return a;
    return mode === RM ? -0 : 0;
  }
  if (
    !Number.isFinite(a) ||
    !Number.isFinite(b) ||
    a === 0 ||
    (b === 0 && op !== 'sqrt') ||
    (op === 'sqrt' && a < 0)
  ) {
    const r =
      op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? a / b : Math.sqrt(a);
    return f === F32 ? Math.fround(r) : r;
  }
  if (op === '+' || op === '-') return fma(a, 1, op === '+' ? b : -b, f, mode);
  if (op === '*') return fma(a, b, 0, f, mode);
  const da = decompose(a);
  if (op === 'sqrt') {
    if (a < 0) return NaN;
    let m = da.mant;
    let e = da.exp;
    if (e & 1) {
      m <<= 1n;
      e -= 1;
    }
    const k = 64;
    m <<= BigInt(2 * k);
    const s = isqrt(m);
    const sticky = s * s !== m ? 1n : 0n;
    return roundExact(false, (s << 1n) | sticky, e / 2 - k - 1, f, mode);
  }
  const db = decompose(b);
  const k = 128;
  const num = da.mant << BigInt(k);
  const qv = num / db.mant;
  const sticky = num % db.mant !== 0n ? 1n : 0n;
  return roundExact(a < 0 !== b < 0, (qv << 1n) | sticky, da.exp - db.exp - k - 1, f, mode);
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // Newton's iteration from an overestimate decreases monotonically to floor(sqrt(n)).
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Rounds to an integral value in `mode` (FRINT*). */
export function roundInt(v: number, mode: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  let r: number;
  switch (mode) {
    case RP:
      r = Math.ceil(v);
      break;
    case RM:
      r = Math.floor(v);
      break;
    case RZ:
      r = Math.trunc(v);
      break;
    case RA:
      r = v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
      if (Math.abs(v) >= 2 ** 52) r = v;
      break;
    default: {
      const fl = Math.floor(v);
      const diff = v - fl;
      r = diff > 0.5 || (diff === 0.5 && fl % 2 !== 0) ? fl + 1 : fl;
    }
  }
  return r === 0 ? (v < 0 ? -0 : 0) : r;
}

/** FP → integer with saturation: bits 32 or 64, signed or not; NaN gives 0. Returns a BigInt. */
export function toInt(v: number, bits: number, signed: boolean, mode: number): bigint {
  if (Number.isNaN(v)) return 0n;
  const r = roundInt(v, mode);
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  if (r >= 2 ** (signed ? bits - 1 : bits))
    return BigInt.asUintN(bits, signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n);
  if (r < min) return BigInt.asUintN(bits, BigInt(min));
  void max;
  return BigInt.asUintN(bits, BigInt(r));
}

/** Integer (BigInt) → FP rounded in `mode`. */
export function fromInt(v: bigint, f: Format, mode: number): number {
  if (v === 0n) return 0;
  const neg = v < 0n;
  return roundExact(neg, neg ? -v : v, 0, f, mode);
}
