/**
 * Specialised handlers for the hottest encodings: decoded once into closures with their fields
 * bound, so the hot loop runs no field extraction. Each returns undefined for forms it does not
 * cover, and the generic handler of the class runs instead (the semantic reference).
 */
import { addOffset, conditionHolds, mul64, sext, shift64 } from '../alu';
import type { Handler } from '../decoder';

const TWO32 = 4294967296;

export function fastAddSubImm(i: number): Handler | undefined {
  if (i >= 0 || ((i >>> 29) & 1) !== 0) return undefined; // 64-bit, no flags
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const di = d === 31 ? 64 : d << 1;
  let imm = (i >>> 10) & 0xfff;
  if ((i >>> 22) & 1) imm *= 4096;
  if ((i >>> 30) & 1) imm = -imm;
  return (c) => {
    const x = c.x;
    const s = x[ni] + imm;
    const lo = s >>> 0;
    x[di + 1] = (x[ni + 1] + (s - lo) / TWO32) >>> 0;
    x[di] = lo;
  };
}

export function fastBranch(i: number): Handler | undefined {
  const off = sext(i & 0x3ffffff, 26) * 4;
  if (i < 0) {
    return (c) => {
      c.x[60] = c.npcLo >>> 0;
      c.x[61] = c.npcLo > 0xffffffff ? (c.pcHi + 1) >>> 0 : c.pcHi;
      addOffset(c, c.pcLo, c.pcHi, off);
      c.npcLo = c.rlo;
      c.npcHi = c.rhi;
    };
  }
  return (c) => {
    addOffset(c, c.pcLo, c.pcHi, off);
    c.npcLo = c.rlo;
    c.npcHi = c.rhi;
  };
}

export function fastBcond(i: number): Handler | undefined {
  if ((i & 0x10) !== 0) return undefined;
  const cond = i & 0xf;
  const off = sext((i >>> 5) & 0x7ffff, 19) * 4;
  return (c) => {
    if (conditionHolds(c, cond)) {
      addOffset(c, c.pcLo, c.pcHi, off);
      c.npcLo = c.rlo;
      c.npcHi = c.rhi;
    }
  };
}

export function fastCbz(i: number): Handler | undefined {
  const t = (i & 31) << 1;
  const off = sext((i >>> 5) & 0x7ffff, 19) * 4;
  const nz = ((i >>> 24) & 1) === 1;
  const wide = i < 0;
  return (c) => {
    const zero = wide ? (c.x[t] | c.x[t + 1]) === 0 : c.x[t] === 0;
    if (zero !== nz) {
      addOffset(c, c.pcLo, c.pcHi, off);
      c.npcLo = c.rlo;
      c.npcHi = c.rhi;
    }
  };
}

/** LDR/STR X, W and LDRB/STRB with an unsigned immediate offset. */
export function fastUnsignedOffset(i: number): Handler | undefined {
  if (((i >>> 26) & 1) !== 0) return undefined;
  const size = (i >>> 30) & 3;
  const opc = (i >>> 22) & 3;
  if (opc > 1 || size === 1) return undefined;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const t = i & 31;
  const ti = t << 1;
  const off = ((i >>> 10) & 0xfff) << size;
  const load = opc === 1;
  if (size === 3) {
    if (load) {
      return (c) => {
        const x = c.x;
        const s = x[ni] + off;
        c.ld64(s >>> 0, s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1]);
        if (t !== 31) {
          x[ti] = c.rlo;
          x[ti + 1] = c.rhi;
        }
      };
    }
    return (c) => {
      const x = c.x;
      const s = x[ni] + off;
      c.st64(s >>> 0, s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1], x[ti], x[ti + 1]);
    };
  }
  if (size === 2) {
    if (load) {
      return (c) => {
        const x = c.x;
        const s = x[ni] + off;
        const v = c.ld32(s >>> 0, s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1]);
        if (t !== 31) {
          x[ti] = v;
          x[ti + 1] = 0;
        }
      };
    }
    return (c) => {
      const x = c.x;
      const s = x[ni] + off;
      c.st32(s >>> 0, s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1], x[ti]);
    };
  }
  if (load) {
    return (c) => {
      const x = c.x;
      const s = x[ni] + off;
      const v = c.ld8(s >>> 0, s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1]);
      if (t !== 31) {
        x[ti] = v;
        x[ti + 1] = 0;
      }
    };
  }
  return (c) => {
    const x = c.x;
    const s = x[ni] + off;
    c.st8(s >>> 0, s > 0xffffffff ? (x[ni + 1] + 1) >>> 0 : x[ni + 1], x[ti] & 0xff);
  };
}

/** MOV (ORR Xd, XZR, Xm) and plain 64-bit AND/ORR/EOR; shifted forms via fastLogicalShifted. */
export function fastLogicalReg(i: number): Handler | undefined {
  if (i >= 0) return undefined;
  if (((i >>> 10) & 63) !== 0 || ((i >>> 21) & 1) !== 0) return fastLogicalShifted(i);
  const opc = (i >>> 29) & 3;
  if (opc === 3) return undefined;
  const d = i & 31;
  if (d === 31) return undefined;
  const di = d << 1;
  const ni = ((i >>> 5) & 31) << 1;
  const mi = ((i >>> 16) & 31) << 1;
  if (opc === 1 && ni === 62) {
    return (c) => {
      const x = c.x;
      x[di] = x[mi];
      x[di + 1] = x[mi + 1];
    };
  }
  if (opc === 0) {
    return (c) => {
      const x = c.x;
      x[di] = x[ni] & x[mi];
      x[di + 1] = x[ni + 1] & x[mi + 1];
    };
  }
  if (opc === 1) {
    return (c) => {
      const x = c.x;
      x[di] = x[ni] | x[mi];
      x[di + 1] = x[ni + 1] | x[mi + 1];
    };
  }
  return (c) => {
    const x = c.x;
    x[di] = x[ni] ^ x[mi];
    x[di + 1] = x[ni + 1] ^ x[mi + 1];
  };
}

/** 64-bit ADD/SUB/CMP (shifted register) with no shift. */
export function fastAddSubReg(i: number): Handler | undefined {
  if (i >= 0 || ((i >>> 10) & 63) !== 0 || ((i >>> 22) & 3) !== 0) return undefined;
  const sub = ((i >>> 30) & 1) === 1;
  const flags = ((i >>> 29) & 1) === 1;
  const d = i & 31;
  const di = d << 1;
  const ni = ((i >>> 5) & 31) << 1;
  const mi = ((i >>> 16) & 31) << 1;
  if (!flags && !sub) {
    if (d === 31) return () => undefined;
    return (c) => {
      const x = c.x;
      const l = x[ni] + x[mi];
      const lo = l >>> 0;
      x[di + 1] = x[ni + 1] + x[mi + 1] + (l > 0xffffffff ? 1 : 0);
      x[di] = lo;
    };
  }
  if (!flags) {
    if (d === 31) return () => undefined;
    return (c) => {
      const x = c.x;
      const l = x[ni] - x[mi];
      const lo = l >>> 0;
      x[di + 1] = x[ni + 1] - x[mi + 1] - (l < 0 ? 1 : 0);
      x[di] = lo;
    };
  }
  if (sub) {
    return (c) => {
      const x = c.x;
      const al = x[ni];
      const ah = x[ni + 1];
      const bl = x[mi];
      const bh = x[mi + 1];
      const l = al - bl;
      const lo = l >>> 0;
      const h = ah - bh - (l < 0 ? 1 : 0);
      const hi = h >>> 0;
      c.n = hi >>> 31;
      c.z = (lo | hi) === 0 ? 1 : 0;
      c.c = h >= 0 ? 1 : 0;
      c.v = (((ah ^ bh) & (ah ^ hi)) >>> 31) & 1;
      if (d !== 31) {
        x[di] = lo;
        x[di + 1] = hi;
      }
    };
  }
  return undefined;
}

/** LDR/STR X, W, B (register offset) with LSL, UXTW, SXTW or SXTX index. */
export function fastRegisterOffset(i: number): Handler | undefined {
  if (((i >>> 26) & 1) !== 0) return undefined;
  const size = (i >>> 30) & 3;
  const opc = (i >>> 22) & 3;
  const option = (i >>> 13) & 7;
  if (opc > 1 || size === 1 || (option & 2) === 0) return undefined;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const mi = ((i >>> 16) & 31) << 1;
  const t = i & 31;
  const ti = t << 1;
  const sh = (i >>> 12) & 1 ? size : 0;
  const load = opc === 1;
  return (c) => {
    const x = c.x;
    let ml = x[mi];
    let mh = option === 2 ? 0 : option === 6 ? (ml >> 31) >>> 0 : x[mi + 1];
    if (sh !== 0) {
      mh = ((mh << sh) | (ml >>> (32 - sh))) >>> 0;
      ml = (ml << sh) >>> 0;
    }
    const l = x[ni] + ml;
    const lo = l >>> 0;
    const hi = (x[ni + 1] + mh + (l > 0xffffffff ? 1 : 0)) >>> 0;
    if (size === 3) {
      if (load) {
        c.ld64(lo, hi);
        if (t !== 31) {
          x[ti] = c.rlo;
          x[ti + 1] = c.rhi;
        }
      } else c.st64(lo, hi, x[ti], x[ti + 1]);
    } else if (size === 2) {
      if (load) {
        const v = c.ld32(lo, hi);
        if (t !== 31) {
          x[ti] = v;
          x[ti + 1] = 0;
        }
      } else c.st32(lo, hi, x[ti]);
    } else if (load) {
      const v = c.ld8(lo, hi);
      if (t !== 31) {
        x[ti] = v;
        x[ti + 1] = 0;
      }
    } else c.st8(lo, hi, x[ti] & 0xff);
  };
}

export function fastAdr(i: number): Handler | undefined {
  const d = i & 31;
  if (d === 31) return undefined;
  const imm = sext((((i >>> 5) & 0x7ffff) << 2) | ((i >>> 29) & 3), 21);
  const page = i < 0;
  return (c) => {
    if (page) addOffset(c, (c.pcLo & ~0xfff) >>> 0, c.pcHi, imm * 4096);
    else addOffset(c, c.pcLo, c.pcHi, imm);
    c.x[d << 1] = c.rlo;
    c.x[(d << 1) | 1] = c.rhi;
  };
}

/** 64-bit AND/ORR/EOR/ANDS (and inverted forms) with an LSL/LSR/ASR/ROR-shifted operand. */
function fastLogicalShifted(i: number): Handler | undefined {
  const opc = (i >>> 29) & 3;
  const type = (i >>> 22) & 3;
  const amt = (i >>> 10) & 63;
  const inv = ((i >>> 21) & 1) === 1;
  const d = i & 31;
  const di = d << 1;
  const ni = ((i >>> 5) & 31) << 1;
  const mi = ((i >>> 16) & 31) << 1;
  return (c) => {
    const x = c.x;
    shift64(c, type, x[mi], x[mi + 1], amt);
    let bl = c.rlo;
    let bh = c.rhi;
    if (inv) {
      bl = ~bl;
      bh = ~bh;
    }
    const al = x[ni];
    const ah = x[ni + 1];
    let lo: number;
    let hi: number;
    if (opc === 1) {
      lo = al | bl;
      hi = ah | bh;
    } else if (opc === 2) {
      lo = al ^ bl;
      hi = ah ^ bh;
    } else {
      lo = al & bl;
      hi = ah & bh;
    }
    if (opc === 3) {
      c.n = hi >>> 31;
      c.z = (lo | hi) === 0 ? 1 : 0;
      c.c = 0;
      c.v = 0;
    }
    if (d !== 31) {
      x[di] = lo;
      x[di + 1] = hi;
    }
  };
}

/** 64-bit MADD/MSUB (MUL, MNEG). */
export function fastDp3(i: number): Handler | undefined {
  if (i >= 0 || ((i >>> 21) & 7) !== 0 || ((i >>> 29) & 3) !== 0) return undefined;
  const d = i & 31;
  if (d === 31) return undefined;
  const di = d << 1;
  const ni = ((i >>> 5) & 31) << 1;
  const mi = ((i >>> 16) & 31) << 1;
  const ai = ((i >>> 10) & 31) << 1;
  const sub = ((i >>> 15) & 1) === 1;
  return (c) => {
    const x = c.x;
    mul64(c, x[ni], x[ni + 1], x[mi], x[mi + 1]);
    const pl = c.rlo;
    const ph = c.rhi;
    const al = x[ai];
    const ah = x[ai + 1];
    if (sub) {
      const l = al - pl;
      x[di + 1] = ah - ph - (l < 0 ? 1 : 0);
      x[di] = l;
    } else {
      const l = al + pl;
      x[di + 1] = ah + ph + (l > 0xffffffff ? 1 : 0);
      x[di] = l;
    }
  };
}

/** LDP/STP of X registers: signed offset, pre- and post-index. */
export function fastPair(i: number): Handler | undefined {
  const opc = (i >>> 30) & 3;
  const mode = (i >>> 23) & 3;
  if (opc !== 2 || ((i >>> 26) & 1) !== 0 || mode === 0) return undefined;
  const load = ((i >>> 22) & 1) === 1;
  const t = i & 31;
  const t2 = (i >>> 10) & 31;
  const n = (i >>> 5) & 31;
  const ni = n === 31 ? 64 : n << 1;
  const off = sext((i >>> 15) & 0x7f, 7) * 8;
  const ti = t << 1;
  const t2i = t2 << 1;
  return (c) => {
    const x = c.x;
    const bl = x[ni];
    const bh = x[ni + 1];
    let lo = bl;
    let hi = bh;
    if (mode !== 1) {
      const s = bl + off;
      lo = s >>> 0;
      hi = (bh + (s - lo) / TWO32) >>> 0;
    }
    const s2 = lo + 8;
    const lo2 = s2 >>> 0;
    const hi2 = s2 > 0xffffffff ? (hi + 1) >>> 0 : hi;
    if (load) {
      c.ld64(lo, hi);
      const al = c.rlo;
      const ah = c.rhi;
      c.ld64(lo2, hi2);
      if (t2 !== 31) {
        x[t2i] = c.rlo;
        x[t2i + 1] = c.rhi;
      }
      if (t !== 31) {
        x[ti] = al;
        x[ti + 1] = ah;
      }
    } else {
      c.st64(lo, hi, x[ti], x[ti + 1]);
      c.st64(lo2, hi2, x[t2i], x[t2i + 1]);
    }
    if (mode === 1) {
      const s = bl + off;
      const l = s >>> 0;
      x[ni] = l;
      x[ni + 1] = (bh + (s - l) / TWO32) >>> 0;
    } else if (mode === 3) {
      x[ni] = lo;
      x[ni + 1] = hi;
    }
  };
}

/** LDR/STR X, W, B with post- or pre-index writeback. */
export function fastIndexed(i: number): Handler | undefined {
  const mode = (i >>> 10) & 3;
  if (((i >>> 26) & 1) !== 0 || (mode !== 1 && mode !== 3)) return undefined;
  const size = (i >>> 30) & 3;
  const opc = (i >>> 22) & 3;
  if (opc > 1 || size === 1) return undefined;
  const n = (i >>> 5) & 31;
  const t = i & 31;
  if (n === t && n !== 31) return undefined;
  const ni = n === 31 ? 64 : n << 1;
  const ti = t << 1;
  const imm = sext((i >>> 12) & 0x1ff, 9);
  const load = opc === 1;
  const post = mode === 1;
  return (c) => {
    const x = c.x;
    const bl = x[ni];
    const bh = x[ni + 1];
    const s = bl + imm;
    const nl = s >>> 0;
    const nh = (bh + (s - nl) / TWO32) >>> 0;
    const lo = post ? bl : nl;
    const hi = post ? bh : nh;
    if (size === 3) {
      if (load) {
        c.ld64(lo, hi);
        if (t !== 31) {
          x[ti] = c.rlo;
          x[ti + 1] = c.rhi;
        }
      } else c.st64(lo, hi, x[ti], x[ti + 1]);
    } else if (size === 2) {
      if (load) {
        const v = c.ld32(lo, hi);
        if (t !== 31) {
          x[ti] = v;
          x[ti + 1] = 0;
        }
      } else c.st32(lo, hi, x[ti]);
    } else if (load) {
      const v = c.ld8(lo, hi);
      if (t !== 31) {
        x[ti] = v;
        x[ti + 1] = 0;
      }
    } else c.st8(lo, hi, x[ti] & 0xff);
    x[ni] = nl;
    x[ni + 1] = nh;
  };
}
