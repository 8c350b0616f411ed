/**
 * Loads and stores: literal, register (unscaled, pre/post-index, unprivileged, unsigned offset,
 * register offset), pairs, exclusives, acquire/release, LSE atomics, SIMD structures.
 */
import { add64, addOffset, extend, sext, setX, toBig } from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';

/** Loads element of `bytes` at (lo, hi) into V register byte offset `off`. */
function vload(c: Cpu, off: number, bytes: number, lo: number, hi: number): void {
  switch (bytes) {
    case 1:
      c.vb[off] = c.ld8(lo, hi);
      return;
    case 2:
      c.vh[off >>> 1] = c.ld16(lo, hi);
      return;
    case 4:
      c.vw[off >>> 2] = c.ld32(lo, hi);
      return;
    case 8:
      c.ld64(lo, hi);
      c.vw[off >>> 2] = c.rlo;
      c.vw[(off >>> 2) + 1] = c.rhi;
      return;
    default:
      c.ld64(lo, hi);
      c.vw[off >>> 2] = c.rlo;
      c.vw[(off >>> 2) + 1] = c.rhi;
      addOffset(c, lo, hi, 8);
      c.ld64(c.rlo, c.rhi);
      c.vw[(off >>> 2) + 2] = c.rlo;
      c.vw[(off >>> 2) + 3] = c.rhi;
  }
}

function vstore(c: Cpu, off: number, bytes: number, lo: number, hi: number): void {
  switch (bytes) {
    case 1:
      c.st8(lo, hi, c.vb[off]);
      return;
    case 2:
      c.st16(lo, hi, c.vh[off >>> 1]);
      return;
    case 4:
      c.st32(lo, hi, c.vw[off >>> 2]);
      return;
    case 8:
      c.st64(lo, hi, c.vw[off >>> 2], c.vw[(off >>> 2) + 1]);
      return;
    default: {
      const w = off >>> 2;
      c.st64(lo, hi, c.vw[w], c.vw[w + 1]);
      addOffset(c, lo, hi, 8);
      c.st64(c.rlo, c.rhi, c.vw[w + 2], c.vw[w + 3]);
    }
  }
}

/** Zeroes V register `r` from byte `from` to 16. */
function vclear(c: Cpu, r: number, from: number): void {
  for (let k = from; k < 16; k++) c.vb[r * 16 + k] = 0;
}

/**
 * One load or store of the register classes: op = V:size:opc (5 bits). Returns false for an
 * unallocated combination.
 */
function access(c: Cpu, op: number, t: number, lo: number, hi: number, prfmOk: boolean): boolean {
  const x = c.x;
  switch (op) {
    case 0b00000:
      c.st8(lo, hi, x[t << 1]);
      return true;
    case 0b00001:
      setX(c, t, c.ld8(lo, hi), 0);
      return true;
    case 0b00010: {
      const v = (c.ld8(lo, hi) << 24) >> 24;
      setX(c, t, v >>> 0, (v >> 31) >>> 0);
      return true;
    }
    case 0b00011:
      setX(c, t, ((c.ld8(lo, hi) << 24) >> 24) >>> 0, 0);
      return true;
    case 0b00100:
      c.st16(lo, hi, x[t << 1] & 0xffff);
      return true;
    case 0b00101:
      setX(c, t, c.ld16(lo, hi), 0);
      return true;
    case 0b00110: {
      const v = (c.ld16(lo, hi) << 16) >> 16;
      setX(c, t, v >>> 0, (v >> 31) >>> 0);
      return true;
    }
    case 0b00111:
      setX(c, t, ((c.ld16(lo, hi) << 16) >> 16) >>> 0, 0);
      return true;
    case 0b01000:
      c.st32(lo, hi, x[t << 1]);
      return true;
    case 0b01001:
      setX(c, t, c.ld32(lo, hi), 0);
      return true;
    case 0b01010: {
      const v = c.ld32(lo, hi);
      setX(c, t, v, (v >> 31) >>> 0);
      return true;
    }
    case 0b01100:
      c.st64(lo, hi, x[t << 1], x[(t << 1) | 1]);
      return true;
    case 0b01101:
      c.ld64(lo, hi);
      setX(c, t, c.rlo, c.rhi);
      return true;
    case 0b01110:
      return prfmOk; // PRFM / PRFUM: a hint
    case 0b10000:
      vstore(c, t * 16, 1, lo, hi);
      return true;
    case 0b10001:
      vclear(c, t, 0);
      vload(c, t * 16, 1, lo, hi);
      return true;
    case 0b10010:
      vstore(c, t * 16, 16, lo, hi);
      return true;
    case 0b10011:
      vload(c, t * 16, 16, lo, hi);
      return true;
    case 0b10100:
      vstore(c, t * 16, 2, lo, hi);
      return true;
    case 0b10101:
      vclear(c, t, 0);
      vload(c, t * 16, 2, lo, hi);
      return true;
    case 0b11000:
      vstore(c, t * 16, 4, lo, hi);
      return true;
    case 0b11001:
      vclear(c, t, 0);
      vload(c, t * 16, 4, lo, hi);
      return true;
    case 0b11100:
      vstore(c, t * 16, 8, lo, hi);
      return true;
    case 0b11101:
      vclear(c, t, 8);
      vload(c, t * 16, 8, lo, hi);
      return true;
  }
  return false;
}

const accessSize = (op: number): number => ((op & 0b11110) === 0b10010 ? 4 : (op >>> 2) & 3);

function literal(c: Cpu, i: number): void {
  const opc = (i >>> 30) & 3;
  const v = (i >>> 26) & 1;
  addOffset(c, c.pcLo, c.pcHi, sext((i >>> 5) & 0x7ffff, 19) * 4);
  const lo = c.rlo;
  const hi = c.rhi;
  const t = i & 31;
  if (v) {
    if (opc === 3) throw new UndefinedInstruction(i);
    const bytes = 4 << opc;
    vclear(c, t, 0);
    vload(c, t * 16, bytes, lo, hi);
    return;
  }
  if (opc === 0) setX(c, t, c.ld32(lo, hi), 0);
  else if (opc === 1) {
    c.ld64(lo, hi);
    setX(c, t, c.rlo, c.rhi);
  } else if (opc === 2) {
    const w = c.ld32(lo, hi);
    setX(c, t, w, (w >> 31) >>> 0);
  }
  // opc 3: PRFM (literal), a hint.
}

/** Unscaled (LDUR), post-index, unprivileged (LDTR), pre-index. */
function immIndexed(c: Cpu, i: number): void {
  const op = (((i >>> 26) & 1) << 4) | (((i >>> 30) & 3) << 2) | ((i >>> 22) & 3);
  const mode = (i >>> 10) & 3;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const imm = sext((i >>> 12) & 0x1ff, 9);
  const x = c.x;
  if (mode === 1) {
    const lo = x[ni];
    const hi = x[ni + 1];
    if (!access(c, op, i & 31, lo, hi, false)) throw new UndefinedInstruction(i);
    addOffset(c, lo, hi, imm);
    x[ni] = c.rlo;
    x[ni + 1] = c.rhi;
    return;
  }
  addOffset(c, x[ni], x[ni + 1], imm);
  const lo = c.rlo;
  const hi = c.rhi;
  if (mode === 2) {
    // LDTR/STTR: EL0's permissions (an abort's exception entry resets memEl too).
    if ((op & 0b10000) !== 0) throw new UndefinedInstruction(i);
    c.memEl = 0;
    const ok = access(c, op, i & 31, lo, hi, false);
    c.memEl = c.el;
    if (!ok) throw new UndefinedInstruction(i);
    return;
  }
  if (!access(c, op, i & 31, lo, hi, mode === 0)) throw new UndefinedInstruction(i);
  if (mode === 3) {
    x[ni] = lo;
    x[ni + 1] = hi;
  }
}

function unsignedOffset(c: Cpu, i: number): void {
  const op = (((i >>> 26) & 1) << 4) | (((i >>> 30) & 3) << 2) | ((i >>> 22) & 3);
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const off = ((i >>> 10) & 0xfff) * (1 << accessSize(op));
  const x = c.x;
  const s = x[ni] + off;
  const lo = s >>> 0;
  const hi = s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1];
  if (!access(c, op, i & 31, lo, hi, true)) throw new UndefinedInstruction(i);
}

function registerOffset(c: Cpu, i: number): void {
  const op = (((i >>> 26) & 1) << 4) | (((i >>> 30) & 3) << 2) | ((i >>> 22) & 3);
  const option = (i >>> 13) & 7;
  if ((option & 2) === 0) throw new UndefinedInstruction(i);
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const m = (i >>> 16) & 31;
  const x = c.x;
  extend(c, option, x[m << 1], x[(m << 1) | 1], (i >>> 12) & 1 ? accessSize(op) : 0);
  add64(c, x[ni], x[ni + 1], c.rlo, c.rhi, 0, false);
  if (!access(c, op, i & 31, c.rlo, c.rhi, true)) throw new UndefinedInstruction(i);
}

function pair(c: Cpu, i: number): void {
  const opc = (i >>> 30) & 3;
  const v = (i >>> 26) & 1;
  const load = (i >>> 22) & 1;
  const mode = (i >>> 23) & 3; // 0 no-allocate, 1 post, 2 offset, 3 pre
  if (opc === 3 || (!v && opc === 1 && (!load || mode === 0))) throw new UndefinedInstruction(i);
  const scale = v ? 2 + opc : 2 + (opc >>> 1);
  const bytes = 1 << scale;
  const t = i & 31;
  const t2 = (i >>> 10) & 31;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const x = c.x;
  const off = sext((i >>> 15) & 0x7f, 7) * bytes;
  const blo = x[ni];
  const bhi = x[ni + 1];
  if (mode !== 1) addOffset(c, blo, bhi, off);
  else {
    c.rlo = blo;
    c.rhi = bhi;
  }
  const lo = c.rlo;
  const hi = c.rhi;
  addOffset(c, lo, hi, bytes);
  const lo2 = c.rlo;
  const hi2 = c.rhi;
  if (v) {
    if (load) {
      vclear(c, t, 0);
      vload(c, t * 16, bytes, lo, hi);
      vclear(c, t2, 0);
      vload(c, t2 * 16, bytes, lo2, hi2);
    } else {
      vstore(c, t * 16, bytes, lo, hi);
      vstore(c, t2 * 16, bytes, lo2, hi2);
    }
  } else if (load) {
    if (bytes === 8) {
      c.ld64(lo, hi);
      const al = c.rlo;
      const ah = c.rhi;
      c.ld64(lo2, hi2);
      setX(c, t2, c.rlo, c.rhi);
      setX(c, t, al, ah);
    } else {
      const a = c.ld32(lo, hi);
      const b = c.ld32(lo2, hi2);
      if (opc === 1) {
        setX(c, t, a, (a >> 31) >>> 0);
        setX(c, t2, b, (b >> 31) >>> 0);
      } else {
        setX(c, t, a, 0);
        setX(c, t2, b, 0);
      }
    }
  } else if (bytes === 8) {
    c.st64(lo, hi, x[t << 1], x[(t << 1) | 1]);
    c.st64(lo2, hi2, x[t2 << 1], x[(t2 << 1) | 1]);
  } else {
    c.st32(lo, hi, x[t << 1]);
    c.st32(lo2, hi2, x[t2 << 1]);
  }
  if (mode === 1) {
    addOffset(c, blo, bhi, off);
    x[ni] = c.rlo;
    x[ni + 1] = c.rhi;
  } else if (mode === 3) {
    x[ni] = lo;
    x[ni + 1] = hi;
  }
}

/** Reads `bytes` (1..8) at lo/hi into rlo/rhi, zero-extended. */
function loadN(c: Cpu, bytes: number, lo: number, hi: number): void {
  if (bytes === 8) c.ld64(lo, hi);
  else {
    c.rlo = bytes === 4 ? c.ld32(lo, hi) : bytes === 2 ? c.ld16(lo, hi) : c.ld8(lo, hi);
    c.rhi = 0;
  }
}

function storeN(c: Cpu, bytes: number, lo: number, hi: number, vlo: number, vhi: number): void {
  if (bytes === 8) c.st64(lo, hi, vlo, vhi);
  else if (bytes === 4) c.st32(lo, hi, vlo);
  else if (bytes === 2) c.st16(lo, hi, vlo & 0xffff);
  else c.st8(lo, hi, vlo & 0xff);
}

function exclusive(c: Cpu, i: number): void {
  const size = (i >>> 30) & 3;
  const o2 = (i >>> 23) & 1;
  const load = (i >>> 22) & 1;
  const o1 = (i >>> 21) & 1;
  const s = (i >>> 16) & 31;
  const t2 = (i >>> 10) & 31;
  const n = (i >>> 5) & 31;
  const t = i & 31;
  const ni = n === 31 ? 64 : n << 1;
  const x = c.x;
  const lo = x[ni];
  const hi = x[ni + 1];
  const bytes = 1 << size;
  if (o2 === 1 && o1 === 1) {
    if (t2 !== 31) throw new UndefinedInstruction(i);
    return cas(c, bytes, s, t, lo, hi);
  }
  if (o2 === 0 && o1 === 1 && size < 2) {
    if (t2 !== 31) throw new UndefinedInstruction(i);
    return casp(c, size === 0 ? 4 : 8, s, t, lo, hi);
  }
  if (o2 === 1) {
    // LDAR / STLR (and the LORegion forms, same in a single-PE model)
    if (load) {
      loadN(c, bytes, lo, hi);
      setX(c, t, c.rlo, c.rhi);
    } else storeN(c, bytes, lo, hi, x[t << 1], x[(t << 1) | 1]);
    return;
  }
  const pairOp = o1 === 1;
  if (load) {
    c.exclusiveAddr = lo + hi * 4294967296;
    if (pairOp) {
      const eb = size === 2 ? 4 : 8;
      loadN(c, eb, lo, hi);
      const al = c.rlo;
      const ah = c.rhi;
      addOffset(c, lo, hi, eb);
      loadN(c, eb, c.rlo, c.rhi);
      setX(c, t2, c.rlo, c.rhi);
      setX(c, t, al, ah);
    } else {
      loadN(c, bytes, lo, hi);
      setX(c, t, c.rlo, c.rhi);
    }
    return;
  }
  const ok = c.exclusiveAddr === lo + hi * 4294967296;
  c.exclusiveAddr = -1;
  if (ok) {
    if (pairOp) {
      const eb = size === 2 ? 4 : 8;
      storeN(c, eb, lo, hi, x[t << 1], x[(t << 1) | 1]);
      addOffset(c, lo, hi, eb);
      storeN(c, eb, c.rlo, c.rhi, x[t2 << 1], x[(t2 << 1) | 1]);
    } else storeN(c, bytes, lo, hi, x[t << 1], x[(t << 1) | 1]);
  }
  setX(c, s, ok ? 0 : 1, 0);
}

function cas(c: Cpu, bytes: number, s: number, t: number, lo: number, hi: number): void {
  const x = c.x;
  loadN(c, bytes, lo, hi);
  const ol = c.rlo;
  const oh = c.rhi;
  const mask = bytes === 8 ? 0xffffffff : bytes === 4 ? 0xffffffff : (1 << (bytes * 8)) - 1;
  const el = (x[s << 1] & mask) >>> 0;
  const eh = bytes === 8 ? x[(s << 1) | 1] : 0;
  if (el === ol && eh === oh) storeN(c, bytes, lo, hi, x[t << 1], x[(t << 1) | 1]);
  setX(c, s, ol, oh);
}

function casp(c: Cpu, eb: number, s: number, t: number, lo: number, hi: number): void {
  if (s & 1 || t & 1) throw new UndefinedInstruction(c.ld32(c.pcLo, c.pcHi), 'CASP odd register');
  const x = c.x;
  loadN(c, eb, lo, hi);
  const al = c.rlo;
  const ah = c.rhi;
  addOffset(c, lo, hi, eb);
  const lo2 = c.rlo;
  const hi2 = c.rhi;
  loadN(c, eb, lo2, hi2);
  const bl = c.rlo;
  const bh = c.rhi;
  const m = eb === 8 ? 0xffffffff : 0;
  if (
    al === x[s << 1] >>> 0 &&
    ah === (x[(s << 1) | 1] & m) >>> 0 &&
    bl === x[(s + 1) << 1] >>> 0 &&
    bh === (x[((s + 1) << 1) | 1] & m) >>> 0
  ) {
    storeN(c, eb, lo, hi, x[t << 1], x[(t << 1) | 1]);
    storeN(c, eb, lo2, hi2, x[(t + 1) << 1], x[((t + 1) << 1) | 1]);
  }
  setX(c, s, al, ah);
  setX(c, s + 1, bl, bh);
}

function atomic(c: Cpu, i: number): void {
  if ((i >>> 26) & 1) throw new UndefinedInstruction(i);
  const size = (i >>> 30) & 3;
  const bytes = 1 << size;
  const o3 = (i >>> 15) & 1;
  const opc = (i >>> 12) & 7;
  const s = (i >>> 16) & 31;
  const n = (i >>> 5) & 31;
  const t = i & 31;
  const ni = n === 31 ? 64 : n << 1;
  const x = c.x;
  const lo = x[ni];
  const hi = x[ni + 1];
  if (o3 === 1 && opc === 4) {
    // LDAPR
    if (s !== 31) throw new UndefinedInstruction(i);
    loadN(c, bytes, lo, hi);
    setX(c, t, c.rlo, c.rhi);
    return;
  }
  if (o3 === 1 && opc !== 0) throw new UndefinedInstruction(i);
  loadN(c, bytes, lo, hi);
  const ol = c.rlo;
  const oh = c.rhi;
  const bits = bytes * 8;
  const sl = bytes === 8 ? x[s << 1] : bits === 32 ? x[s << 1] : x[s << 1] & ((1 << bits) - 1);
  const sh = bytes === 8 ? x[(s << 1) | 1] : 0;
  let nl: number;
  let nh: number;
  if (o3 === 1) {
    nl = sl;
    nh = sh;
  } else {
    switch (opc) {
      case 0:
        add64(c, ol, oh, sl, sh, 0, false);
        nl = c.rlo;
        nh = c.rhi;
        break;
      case 1:
        nl = (ol & ~sl) >>> 0;
        nh = (oh & ~sh) >>> 0;
        break;
      case 2:
        nl = (ol ^ sl) >>> 0;
        nh = (oh ^ sh) >>> 0;
        break;
      case 3:
        nl = (ol | sl) >>> 0;
        nh = (oh | sh) >>> 0;
        break;
      default: {
        const signed = opc < 6;
        const a = signed ? BigInt.asIntN(bits, toBig(ol, oh)) : toBig(ol, oh);
        const b = signed ? BigInt.asIntN(bits, toBig(sl, sh)) : toBig(sl, sh);
        const takeMax = (opc & 1) === 0;
        const pick = takeMax ? (a > b ? ol : sl) : a < b ? ol : sl;
        const pickH = takeMax ? (a > b ? oh : sh) : a < b ? oh : sh;
        nl = pick;
        nh = pickH;
      }
    }
  }
  storeN(c, bytes, lo, hi, nl, nh);
  setX(c, t, ol, oh);
}

function simdMultiple(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const load = (i >>> 22) & 1;
  const post = (i >>> 23) & 1;
  const opcode = (i >>> 12) & 15;
  const size = (i >>> 10) & 3;
  let rpt: number;
  let selem: number;
  switch (opcode) {
    case 0:
      rpt = 1;
      selem = 4;
      break;
    case 2:
      rpt = 4;
      selem = 1;
      break;
    case 4:
      rpt = 1;
      selem = 3;
      break;
    case 6:
      rpt = 3;
      selem = 1;
      break;
    case 7:
      rpt = 1;
      selem = 1;
      break;
    case 8:
      rpt = 1;
      selem = 2;
      break;
    case 10:
      rpt = 2;
      selem = 1;
      break;
    default:
      throw new UndefinedInstruction(i);
  }
  if (size === 3 && q === 0 && selem !== 1) throw new UndefinedInstruction(i);
  const ebytes = 1 << size;
  const elements = (q ? 16 : 8) / ebytes;
  const t = i & 31;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const x = c.x;
  const blo = x[ni];
  const bhi = x[ni + 1];
  let offs = 0;
  if (load && !q) for (let r = 0; r < rpt * selem; r++) vclear(c, (t + r) & 31, 8);
  for (let r = 0; r < rpt; r++) {
    for (let e = 0; e < elements; e++) {
      let tt = (t + r) & 31;
      for (let s = 0; s < selem; s++) {
        addOffset(c, blo, bhi, offs);
        if (load) vload(c, tt * 16 + e * ebytes, ebytes, c.rlo, c.rhi);
        else vstore(c, tt * 16 + e * ebytes, ebytes, c.rlo, c.rhi);
        offs += ebytes;
        tt = (tt + 1) & 31;
      }
    }
  }
  if (post) postIndex(c, i, ni, blo, bhi, offs);
}

function postIndex(c: Cpu, i: number, ni: number, blo: number, bhi: number, total: number): void {
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (m === 31) addOffset(c, blo, bhi, total);
  else add64(c, blo, bhi, x[m << 1], x[(m << 1) | 1], 0, false);
  x[ni] = c.rlo;
  x[ni + 1] = c.rhi;
}

function simdSingle(c: Cpu, i: number): void {
  const q = (i >>> 30) & 1;
  const load = (i >>> 22) & 1;
  const post = (i >>> 23) & 1;
  const r = (i >>> 21) & 1;
  const opcode = (i >>> 13) & 7;
  const s = (i >>> 12) & 1;
  const size = (i >>> 10) & 3;
  let scale = opcode >>> 1;
  const selem = (((opcode & 1) << 1) | r) + 1;
  let replicate = false;
  let index = 0;
  switch (scale) {
    case 3:
      if (!load || s) throw new UndefinedInstruction(i);
      scale = size;
      replicate = true;
      break;
    case 0:
      index = (q << 3) | (s << 2) | size;
      break;
    case 1:
      if (size & 1) throw new UndefinedInstruction(i);
      index = (q << 2) | (s << 1) | (size >>> 1);
      break;
    default:
      if (size & 2) throw new UndefinedInstruction(i);
      if ((size & 1) === 0) index = (q << 1) | s;
      else {
        if (s) throw new UndefinedInstruction(i);
        index = q;
        scale = 3;
      }
  }
  const ebytes = 1 << scale;
  const t = i & 31;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const x = c.x;
  const blo = x[ni];
  const bhi = x[ni + 1];
  let offs = 0;
  let tt = t;
  for (let k = 0; k < selem; k++) {
    addOffset(c, blo, bhi, offs);
    if (replicate) {
      vload(c, tt * 16, ebytes, c.rlo, c.rhi);
      const lanes = (q ? 16 : 8) / ebytes;
      for (let e = 1; e < lanes; e++)
        for (let b = 0; b < ebytes; b++) c.vb[tt * 16 + e * ebytes + b] = c.vb[tt * 16 + b];
      if (!q) vclear(c, tt, 8);
    } else if (load) vload(c, tt * 16 + index * ebytes, ebytes, c.rlo, c.rhi);
    else vstore(c, tt * 16 + index * ebytes, ebytes, c.rlo, c.rhi);
    offs += ebytes;
    tt = (tt + 1) & 31;
  }
  if (post) postIndex(c, i, ni, blo, bhi, offs);
}

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'ldst',
  name,
  mask,
  value,
  fn,
});

export const LDST: InsnDef[] = [
  d('load literal', 0x3b000000, 0x18000000, literal),
  d('exclusive/ordered/CAS', 0x3f000000, 0x08000000, exclusive),
  d('load/store pair', 0x3a000000, 0x28000000, pair),
  d('load/store (imm9)', 0x3b200000, 0x38000000, immIndexed),
  d('atomic memory operation', 0x3b200c00, 0x38200000, atomic),
  d('load/store (register offset)', 0x3b200c00, 0x38200800, registerOffset),
  d('load/store (unsigned offset)', 0x3b000000, 0x39000000, unsignedOffset),
  d('SIMD load/store multiple', 0xbfbf0000, 0x0c000000, simdMultiple),
  d('SIMD load/store multiple (post)', 0xbfa00000, 0x0c800000, simdMultiple),
  d('SIMD load/store single', 0xbf9f0000, 0x0d000000, simdSingle),
  d('SIMD load/store single (post)', 0xbf800000, 0x0d800000, simdSingle),
];
