/** Data processing, immediate: PC-relative, add/sub, logical, move wide, bitfield, extract. */
import { add32, add64, addOffset, setW, setX, setXsp, shift64, sext } from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';

function adr(c: Cpu, i: number): void {
  const imm = sext((((i >>> 5) & 0x7ffff) << 2) | ((i >>> 29) & 3), 21);
  if (i < 0) addOffset(c, (c.pcLo & ~0xfff) >>> 0, c.pcHi, imm * 4096);
  else addOffset(c, c.pcLo, c.pcHi, imm);
  setX(c, i & 31, c.rlo, c.rhi);
}

function addSubImm(c: Cpu, i: number): void {
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const sub = (i >>> 30) & 1;
  const flags = ((i >>> 29) & 1) === 1;
  let imm = (i >>> 10) & 0xfff;
  if ((i >>> 22) & 1) imm *= 4096;
  const ni = n === 31 ? 64 : n << 1;
  if (i < 0) {
    if (sub) add64(c, c.x[ni], c.x[ni + 1], ~imm >>> 0, 0xffffffff, 1, flags);
    else add64(c, c.x[ni], c.x[ni + 1], imm, 0, 0, flags);
    if (flags) setX(c, d, c.rlo, c.rhi);
    else setXsp(c, d, c.rlo, c.rhi);
  } else {
    const r = sub ? add32(c, c.x[ni], ~imm >>> 0, 1, flags) : add32(c, c.x[ni], imm, 0, flags);
    if (flags) setW(c, d, r);
    else setXsp(c, d, r, 0);
  }
}

// DecodeBitMasks results for every (N, immr, imms), as [wmask lo, wmask hi, tmask lo, tmask hi].
const MASKS = new Uint32Array(8192 * 4);
const VALID_IMM = new Uint8Array(8192);
const VALID_BF = new Uint8Array(8192);
(function buildMasks(): void {
  for (let key = 0; key < 8192; key++) {
    const N = key >>> 12;
    const immr = (key >>> 6) & 63;
    const imms = key & 63;
    const lenBits = (N << 6) | (~imms & 63);
    if (lenBits === 0) continue;
    const len = 31 - Math.clz32(lenBits);
    if (len < 1) continue;
    const levels = (1 << len) - 1;
    const S = imms & levels;
    const R = immr & levels;
    const dd = (S - R) & levels;
    const esize = 1 << len;
    const ones = (k: number): bigint => (1n << BigInt(k)) - 1n;
    const emask = ones(esize);
    let welem = ones(S + 1);
    welem = ((welem >> BigInt(R)) | (welem << BigInt(esize - R))) & emask;
    const telem = ones(dd + 1);
    let w = 0n;
    let t = 0n;
    for (let p = 0; p < 64; p += esize) {
      w |= welem << BigInt(p);
      t |= telem << BigInt(p);
    }
    MASKS[key * 4] = Number(w & 0xffffffffn);
    MASKS[key * 4 + 1] = Number(w >> 32n);
    MASKS[key * 4 + 2] = Number(t & 0xffffffffn);
    MASKS[key * 4 + 3] = Number(t >> 32n);
    VALID_BF[key] = 1;
    VALID_IMM[key] = S === levels ? 0 : 1;
  }
})();

function logicalImm(c: Cpu, i: number): void {
  const sf = i < 0;
  const key = (i >>> 10) & 0x1fff;
  if (!VALID_IMM[key] || (!sf && key >= 4096))
    throw new UndefinedInstruction(i, 'reserved bitmask immediate');
  const opc = (i >>> 29) & 3;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const ml = MASKS[key * 4];
  const mh = sf ? MASKS[key * 4 + 1] : 0;
  const al = c.x[n << 1];
  const ah = sf ? c.x[(n << 1) | 1] : 0;
  let lo: number;
  let hi: number;
  switch (opc) {
    case 1:
      lo = (al | ml) >>> 0;
      hi = (ah | mh) >>> 0;
      break;
    case 2:
      lo = (al ^ ml) >>> 0;
      hi = (ah ^ mh) >>> 0;
      break;
    default:
      lo = (al & ml) >>> 0;
      hi = (ah & mh) >>> 0;
  }
  if (opc === 3) {
    c.n = sf ? hi >>> 31 : lo >>> 31;
    c.z = (lo | hi) === 0 ? 1 : 0;
    c.c = 0;
    c.v = 0;
    setX(c, d, lo, hi);
  } else setXsp(c, d, lo, hi);
}

function moveWide(c: Cpu, i: number): void {
  const sf = i < 0;
  const opc = (i >>> 29) & 3;
  const hw = (i >>> 21) & 3;
  if (opc === 1 || (!sf && hw >= 2)) throw new UndefinedInstruction(i);
  const imm = (i >>> 5) & 0xffff;
  const d = i & 31;
  if (d === 31) return;
  const x = c.x;
  let lo: number;
  let hi: number;
  if (opc === 3) {
    lo = x[d << 1];
    hi = x[(d << 1) | 1];
    switch (hw) {
      case 0:
        lo = ((lo & 0xffff0000) | imm) >>> 0;
        break;
      case 1:
        lo = ((lo & 0xffff) | (imm << 16)) >>> 0;
        break;
      case 2:
        hi = ((hi & 0xffff0000) | imm) >>> 0;
        break;
      default:
        hi = ((hi & 0xffff) | (imm << 16)) >>> 0;
    }
  } else {
    lo = hw === 0 ? imm : hw === 1 ? (imm << 16) >>> 0 : 0;
    hi = hw === 2 ? imm : hw === 3 ? (imm << 16) >>> 0 : 0;
    if (opc === 0) {
      lo = ~lo >>> 0;
      hi = ~hi >>> 0;
    }
  }
  x[d << 1] = lo;
  x[(d << 1) | 1] = sf ? hi : 0;
}

function bitfield(c: Cpu, i: number): void {
  const sf = i < 0;
  const N = (i >>> 22) & 1;
  const opc = (i >>> 29) & 3;
  const key = (i >>> 10) & 0x1fff;
  const immr = (i >>> 16) & 63;
  const imms = (i >>> 10) & 63;
  if (opc === 3 || N !== (sf ? 1 : 0) || !VALID_BF[key] || (!sf && (immr > 31 || imms > 31)))
    throw new UndefinedInstruction(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const x = c.x;
  const wl = MASKS[key * 4];
  const tl = MASKS[key * 4 + 2];
  if (!sf) {
    const src = x[n << 1];
    const dst = opc === 1 ? x[d << 1] : 0;
    const rot = immr === 0 ? src : ((src >>> immr) | (src << (32 - immr))) >>> 0;
    const bot = (dst & ~wl) | (rot & wl);
    const top = opc === 0 ? -((src >>> imms) & 1) : dst;
    setW(c, d, ((top & ~tl) | (bot & tl)) >>> 0);
    return;
  }
  const wh = MASKS[key * 4 + 1];
  const th = MASKS[key * 4 + 3];
  const sl = x[n << 1];
  const sh = x[(n << 1) | 1];
  shift64(c, 3, sl, sh, immr);
  const dl = opc === 1 ? x[d << 1] : 0;
  const dh = opc === 1 ? x[(d << 1) | 1] : 0;
  const bl = (dl & ~wl) | (c.rlo & wl);
  const bh = (dh & ~wh) | (c.rhi & wh);
  let tpl: number;
  let tph: number;
  if (opc === 0) {
    const bit = imms < 32 ? (sl >>> imms) & 1 : (sh >>> (imms - 32)) & 1;
    tpl = tph = -bit;
  } else {
    tpl = dl;
    tph = dh;
  }
  setX(c, d, ((tpl & ~tl) | (bl & tl)) >>> 0, ((tph & ~th) | (bh & th)) >>> 0);
}

function extract(c: Cpu, i: number): void {
  const sf = i < 0;
  const N = (i >>> 22) & 1;
  const lsb = (i >>> 10) & 63;
  if (((i >>> 29) & 3) !== 0 || ((i >>> 21) & 1) !== 0 || N !== (sf ? 1 : 0) || (!sf && lsb > 31))
    throw new UndefinedInstruction(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (!sf) {
    const hiw = x[n << 1];
    const low = x[m << 1];
    setW(c, d, lsb === 0 ? low : ((low >>> lsb) | (hiw << (32 - lsb))) >>> 0);
    return;
  }
  // (Xn:Xm) >> lsb, low 64 bits.
  const ml = x[m << 1];
  const mh = x[(m << 1) | 1];
  const nl = x[n << 1];
  const nh = x[(n << 1) | 1];
  if (lsb === 0) setX(c, d, ml, mh);
  else if (lsb < 32)
    setX(c, d, ((ml >>> lsb) | (mh << (32 - lsb))) >>> 0, ((mh >>> lsb) | (nl << (32 - lsb))) >>> 0);
  else if (lsb === 32) setX(c, d, mh, nl);
  else {
    const s = lsb - 32;
    setX(c, d, ((mh >>> s) | (nl << (32 - s))) >>> 0, ((nl >>> s) | (nh << (32 - s))) >>> 0);
  }
}

/** Logical (immediate) with the bitmask decoded once. */
export function fastLogicalImm(i: number): InsnDef['fn'] | undefined {
  const sf = i < 0;
  const key = (i >>> 10) & 0x1fff;
  const opc = (i >>> 29) & 3;
  if (!VALID_IMM[key] || (!sf && key >= 4096) || opc === 3) return undefined;
  const ml = MASKS[key * 4];
  const mh = sf ? MASKS[key * 4 + 1] : 0;
  const d = i & 31;
  const di = d === 31 ? 64 : d << 1;
  const ni = ((i >>> 5) & 31) << 1;
  return (c) => {
    const x = c.x;
    const al = x[ni];
    const ah = sf ? x[ni + 1] : 0;
    if (opc === 0) {
      x[di] = al & ml;
      x[di + 1] = ah & mh;
    } else if (opc === 1) {
      x[di] = al | ml;
      x[di + 1] = ah | mh;
    } else {
      x[di] = al ^ ml;
      x[di + 1] = ah ^ mh;
    }
  };
}

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'dp-imm',
  name,
  mask,
  value,
  fn,
});

export const DP_IMM: InsnDef[] = [
  d('ADR/ADRP', 0x1f000000, 0x10000000, adr),
  d('ADD/SUB (immediate)', 0x1f800000, 0x11000000, addSubImm),
  d('logical (immediate)', 0x1f800000, 0x12000000, logicalImm),
  d('move wide', 0x1f800000, 0x12800000, moveWide),
  d('bitfield', 0x1f800000, 0x13000000, bitfield),
  d('EXTR', 0x1f800000, 0x13800000, extract),
];
