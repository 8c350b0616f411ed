/**
 * Data processing, register: logical and add/sub (shifted, extended), with carry, conditional
 * compare and select, 1-, 2- and 3-source operations, CRC32.
 */
import {
  add32,
  add64,
  bswap16x2,
  bswap32,
  conditionHolds,
  extend,
  fromBig,
  mul64,
  rbit32,
  setW,
  setX,
  setXsp,
  shift32,
  shift64,
  toBig,
  toSBig,
  umul32,
} from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';

function logicalReg(c: Cpu, i: number): void {
  const sf = i < 0;
  const amt = (i >>> 10) & 63;
  if (!sf && amt > 31) throw new UndefinedInstruction(i);
  const type = (i >>> 22) & 3;
  const invert = (i >>> 21) & 1;
  const opc = (i >>> 29) & 3;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (!sf) {
    let b = shift32(type, x[m << 1], amt);
    if (invert) b = ~b;
    const a = x[n << 1];
    const r = (opc === 1 ? a | b : opc === 2 ? a ^ b : a & b) >>> 0;
    if (opc === 3) {
      c.n = r >>> 31;
      c.z = r === 0 ? 1 : 0;
      c.c = 0;
      c.v = 0;
    }
    setW(c, d, r);
    return;
  }
  shift64(c, type, x[m << 1], x[(m << 1) | 1], amt);
  let bl = c.rlo;
  let bh = c.rhi;
  if (invert) {
    bl = ~bl;
    bh = ~bh;
  }
  const al = x[n << 1];
  const ah = x[(n << 1) | 1];
  let lo: number;
  let hi: number;
  if (opc === 1) {
    lo = (al | bl) >>> 0;
    hi = (ah | bh) >>> 0;
  } else if (opc === 2) {
    lo = (al ^ bl) >>> 0;
    hi = (ah ^ bh) >>> 0;
  } else {
    lo = (al & bl) >>> 0;
    hi = (ah & bh) >>> 0;
  }
  if (opc === 3) {
    c.n = hi >>> 31;
    c.z = (lo | hi) === 0 ? 1 : 0;
    c.c = 0;
    c.v = 0;
  }
  setX(c, d, lo, hi);
}

function addSubShifted(c: Cpu, i: number): void {
  const sf = i < 0;
  const amt = (i >>> 10) & 63;
  const type = (i >>> 22) & 3;
  if (type === 3 || (!sf && amt > 31)) throw new UndefinedInstruction(i);
  const sub = (i >>> 30) & 1;
  const flags = ((i >>> 29) & 1) === 1;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (!sf) {
    const b = shift32(type, x[m << 1], amt);
    setW(c, d, sub ? add32(c, x[n << 1], ~b >>> 0, 1, flags) : add32(c, x[n << 1], b, 0, flags));
    return;
  }
  shift64(c, type, x[m << 1], x[(m << 1) | 1], amt);
  if (sub) add64(c, x[n << 1], x[(n << 1) | 1], ~c.rlo >>> 0, ~c.rhi >>> 0, 1, flags);
  else add64(c, x[n << 1], x[(n << 1) | 1], c.rlo, c.rhi, 0, flags);
  setX(c, d, c.rlo, c.rhi);
}

function addSubExtended(c: Cpu, i: number): void {
  const sf = i < 0;
  const sh = (i >>> 10) & 7;
  if (sh > 4 || ((i >>> 22) & 3) !== 0) throw new UndefinedInstruction(i);
  const sub = (i >>> 30) & 1;
  const flags = ((i >>> 29) & 1) === 1;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  const ni = n === 31 ? 64 : n << 1;
  extend(c, (i >>> 13) & 7, x[m << 1], x[(m << 1) | 1], sh);
  if (!sf) {
    const r = sub ? add32(c, x[ni], ~c.rlo >>> 0, 1, flags) : add32(c, x[ni], c.rlo, 0, flags);
    if (flags) setW(c, d, r);
    else setXsp(c, d, r, 0);
    return;
  }
  if (sub) add64(c, x[ni], x[ni + 1], ~c.rlo >>> 0, ~c.rhi >>> 0, 1, flags);
  else add64(c, x[ni], x[ni + 1], c.rlo, c.rhi, 0, flags);
  if (flags) setX(c, d, c.rlo, c.rhi);
  else setXsp(c, d, c.rlo, c.rhi);
}

function addSubCarry(c: Cpu, i: number): void {
  const sf = i < 0;
  const sub = (i >>> 30) & 1;
  const flags = ((i >>> 29) & 1) === 1;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (!sf) {
    const b = sub ? ~x[m << 1] >>> 0 : x[m << 1];
    setW(c, d, add32(c, x[n << 1], b, c.c, flags));
    return;
  }
  const bl = sub ? ~x[m << 1] >>> 0 : x[m << 1];
  const bh = sub ? ~x[(m << 1) | 1] >>> 0 : x[(m << 1) | 1];
  add64(c, x[n << 1], x[(n << 1) | 1], bl, bh, c.c, flags);
  setX(c, d, c.rlo, c.rhi);
}

function condCompare(c: Cpu, i: number): void {
  if (((i >>> 10) & 1) !== 0 || ((i >>> 4) & 1) !== 0 || ((i >>> 29) & 1) === 0)
    throw new UndefinedInstruction(i);
  const sf = i < 0;
  const sub = ((i >>> 30) & 1) === 1;
  if (!conditionHolds(c, (i >>> 12) & 15)) {
    c.nzcv = (i & 15) << 28;
    return;
  }
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const imm = ((i >>> 11) & 1) === 1;
  const x = c.x;
  const bl = imm ? m : x[m << 1];
  const bh = imm ? 0 : x[(m << 1) | 1];
  if (!sf) add32(c, x[n << 1], sub ? ~bl >>> 0 : bl, sub ? 1 : 0, true);
  else if (sub) add64(c, x[n << 1], x[(n << 1) | 1], ~bl >>> 0, ~bh >>> 0, 1, true);
  else add64(c, x[n << 1], x[(n << 1) | 1], bl, bh, 0, true);
}

function condSelect(c: Cpu, i: number): void {
  if (((i >>> 29) & 1) !== 0 || ((i >>> 11) & 1) !== 0) throw new UndefinedInstruction(i);
  const sf = i < 0;
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (conditionHolds(c, (i >>> 12) & 15)) {
    if (sf) setX(c, d, x[n << 1], x[(n << 1) | 1]);
    else setW(c, d, x[n << 1]);
    return;
  }
  const op = ((i >>> 29) & 2) | ((i >>> 10) & 1);
  let lo = x[m << 1];
  let hi = sf ? x[(m << 1) | 1] : 0;
  if (op === 1) {
    // CSINC
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  } else if (op === 2) {
    lo = ~lo >>> 0;
    hi = ~hi >>> 0;
  } else if (op === 3) {
    lo = ~lo >>> 0;
    hi = ~hi >>> 0;
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  }
  if (sf) setX(c, d, lo, hi);
  else setW(c, d, lo);
}

function dp3(c: Cpu, i: number): void {
  const sf = i < 0;
  const op = (((i >>> 29) & 3) << 4) | (((i >>> 21) & 7) << 1) | ((i >>> 15) & 1);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const a = (i >>> 10) & 31;
  const x = c.x;
  switch (op) {
    case 0:
    case 1: {
      // MADD / MSUB
      const sub = op === 1;
      if (!sf) {
        const p = Math.imul(x[n << 1], x[m << 1]);
        setW(c, d, (sub ? x[a << 1] - p : x[a << 1] + p) >>> 0);
        return;
      }
      mul64(c, x[n << 1], x[(n << 1) | 1], x[m << 1], x[(m << 1) | 1]);
      if (sub) add64(c, x[a << 1], x[(a << 1) | 1], ~c.rlo >>> 0, ~c.rhi >>> 0, 1, false);
      else add64(c, x[a << 1], x[(a << 1) | 1], c.rlo, c.rhi, 0, false);
      setX(c, d, c.rlo, c.rhi);
      return;
    }
    case 2:
    case 3:
    case 10:
    case 11: {
      // SMADDL / SMSUBL / UMADDL / UMSUBL
      if (!sf) break;
      const wn = x[n << 1];
      const wm = x[m << 1];
      umul32(c, wn, wm);
      if (op < 10) c.rhi = (c.rhi - (wn >>> 31) * wm - (wm >>> 31) * wn) >>> 0;
      if (op & 1) add64(c, x[a << 1], x[(a << 1) | 1], ~c.rlo >>> 0, ~c.rhi >>> 0, 1, false);
      else add64(c, x[a << 1], x[(a << 1) | 1], c.rlo, c.rhi, 0, false);
      setX(c, d, c.rlo, c.rhi);
      return;
    }
    case 4:
    case 12: {
      // SMULH / UMULH
      if (!sf || a !== 31) break;
      const p =
        op === 4
          ? toSBig(x[n << 1], x[(n << 1) | 1]) * toSBig(x[m << 1], x[(m << 1) | 1])
          : toBig(x[n << 1], x[(n << 1) | 1]) * toBig(x[m << 1], x[(m << 1) | 1]);
      fromBig(c, BigInt.asUintN(64, p >> 64n));
      setX(c, d, c.rlo, c.rhi);
      return;
    }
  }
  throw new UndefinedInstruction(i);
}

const CRC_TABLES = [0xedb88320, 0x82f63b78].map((poly) => {
  const t = new Uint32Array(256);
  for (let k = 0; k < 256; k++) {
    let v = k;
    for (let j = 0; j < 8; j++) v = v & 1 ? (v >>> 1) ^ poly : v >>> 1;
    t[k] = v >>> 0;
  }
  return t;
});

function crc32(c: Cpu, i: number): void {
  const sz = (i >>> 10) & 3;
  const sf = i < 0;
  if ((sz === 3) !== sf) throw new UndefinedInstruction(i);
  const t = CRC_TABLES[(i >>> 12) & 1];
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  let crc = c.x[n << 1];
  const bytes = 1 << sz;
  for (let k = 0; k < bytes; k++) {
    const word = k < 4 ? c.x[m << 1] : c.x[(m << 1) | 1];
    const b = (word >>> ((k & 3) * 8)) & 0xff;
    crc = (t[(crc ^ b) & 0xff] ^ (crc >>> 8)) >>> 0;
  }
  setW(c, i & 31, crc);
}

function dp2(c: Cpu, i: number): void {
  const sf = i < 0;
  const op = (i >>> 10) & 63;
  if (((i >>> 29) & 1) !== 0) throw new UndefinedInstruction(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const m = (i >>> 16) & 31;
  const x = c.x;
  if (op >= 16 && op <= 23) return crc32(c, i);
  if (op === 2 || op === 3) {
    if (!sf) {
      const a = x[n << 1];
      const b = x[m << 1];
      if (b === 0) setW(c, d, 0);
      else if (op === 2) setW(c, d, Math.floor(a / b) >>> 0);
      else setW(c, d, ((a | 0) / (b | 0)) | 0);
      return;
    }
    if ((x[m << 1] | x[(m << 1) | 1]) === 0) {
      setX(c, d, 0, 0);
      return;
    }
    const q =
      op === 2
        ? toBig(x[n << 1], x[(n << 1) | 1]) / toBig(x[m << 1], x[(m << 1) | 1])
        : toSBig(x[n << 1], x[(n << 1) | 1]) / toSBig(x[m << 1], x[(m << 1) | 1]);
    fromBig(c, BigInt.asUintN(64, q));
    setX(c, d, c.rlo, c.rhi);
    return;
  }
  if (op >= 8 && op <= 11) {
    if (!sf) {
      setW(c, d, shift32(op - 8, x[n << 1], x[m << 1] & 31));
      return;
    }
    shift64(c, op - 8, x[n << 1], x[(n << 1) | 1], x[m << 1] & 63);
    setX(c, d, c.rlo, c.rhi);
    return;
  }
  throw new UndefinedInstruction(i);
}

function dp1(c: Cpu, i: number): void {
  const sf = i < 0;
  const op = (i >>> 10) & 63;
  if (((i >>> 16) & 31) !== 0 || ((i >>> 29) & 1) !== 0) throw new UndefinedInstruction(i);
  const d = i & 31;
  const n = (i >>> 5) & 31;
  const lo = c.x[n << 1];
  const hi = c.x[(n << 1) | 1];
  switch (op) {
    case 0:
      if (sf) setX(c, d, rbit32(hi), rbit32(lo));
      else setW(c, d, rbit32(lo));
      return;
    case 1:
      if (sf) setX(c, d, bswap16x2(lo), bswap16x2(hi));
      else setW(c, d, bswap16x2(lo));
      return;
    case 2:
      if (sf) setX(c, d, bswap32(lo), bswap32(hi));
      else setW(c, d, bswap32(lo));
      return;
    case 3:
      if (!sf) break;
      setX(c, d, bswap32(hi), bswap32(lo));
      return;
    case 4:
      if (sf) setX(c, d, hi === 0 ? 32 + Math.clz32(lo) : Math.clz32(hi), 0);
      else setW(c, d, Math.clz32(lo));
      return;
    case 5: {
      if (sf) {
        const sign = hi >> 31;
        const h = (hi ^ sign) >>> 0;
        const l = (lo ^ sign) >>> 0;
        setX(c, d, (h === 0 ? 32 + Math.clz32(l) : Math.clz32(h)) - 1, 0);
      } else setW(c, d, Math.clz32((lo ^ (lo >> 31)) >>> 0) - 1);
      return;
    }
  }
  throw new UndefinedInstruction(i);
}

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'dp-reg',
  name,
  mask,
  value,
  fn,
});

export const DP_REG: InsnDef[] = [
  d('logical (shifted register)', 0x1f000000, 0x0a000000, logicalReg),
  d('ADD/SUB (shifted register)', 0x1f200000, 0x0b000000, addSubShifted),
  d('ADD/SUB (extended register)', 0x1f200000, 0x0b200000, addSubExtended),
  d('ADC/SBC', 0x1fe0fc00, 0x1a000000, addSubCarry),
  d('CCMP/CCMN', 0x1fe00000, 0x1a400000, condCompare),
  d('conditional select', 0x1fe00000, 0x1a800000, condSelect),
  d('data processing (3 source)', 0x1f000000, 0x1b000000, dp3),
  d('data processing (2 source)', 0x5fe00000, 0x1ac00000, dp2),
  d('data processing (1 source)', 0x5fe00000, 0x5ac00000, dp1),
];
