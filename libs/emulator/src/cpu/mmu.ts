/**
 * Stage-1 translation of the EL1&0 regime (VMSAv8-64): 4K, 16K and 64K granules, TTBR0/TTBR1 by
 * VA bit 55 (top byte ignored per TCR.TBI0/1), T0SZ/T1SZ 16..39, EPD0/1, IPS up to 48 bits,
 * hierarchical APTable/UXNTable/PXNTable, AF and permission faults with the architectural fault
 * status codes, SCTLR.M/WXN. MMU off: VA = PA for every access.
 *
 * The TLB is direct mapped by 4 KiB VA page (a block fills one 4 KiB entry at a time), one tag
 * array per (EL, access), so a hit is one compare: `tag[(el*3 + acc)*N + i] === vpage`. A walk fills
 * the EL0 and EL1 tags of its entry at once. Entries carry no ASID: the TLB is flushed when the
 * current ASID changes (as QEMU does), and when TCR or SCTLR change. TLBI by VA invalidates the
 * entries of every page size (4K/16K/64K) cached since the last flush that contain the address,
 * and the entries filled from blocks (2 MiB and up, kept in a list) whose block contains it.
 */
import { Abort } from './exceptions';
import { MemoryFault, type PagedMemory } from './memory';

export const ACC_R = 0;
export const ACC_W = 1;
export const ACC_X = 2;

const TLB_BITS = 12;
const N = 1 << TLB_BITS;
const MASK = N - 1;
const TWO32 = 4294967296;
/** Block entries tracked for TLBI by VA; past this the TLB is flushed (bounds the tracking). */
const BLOCK_ENTRIES_MAX = 1 << 16;
/** This CPU's PA size (ID_AA64MMFR0_EL1.PARange = 0b0101). */
export const PA_BITS = 48;
const IPS_BITS = [32, 36, 40, 42, 44, 48, 48, 48];

/** Fault status codes (ESR ISS DFSC/IFSC, PAR_EL1.FST); the level goes in the low two bits. */
export const FSC = {
  addressSize: 0x00,
  translation: 0x04,
  accessFlag: 0x08,
  permission: 0x0c,
  external: 0x10,
  externalWalk: 0x14,
  alignment: 0x21,
} as const;

/** The translation registers, decoded (written by MSR through `configure`). */
interface Regime {
  m: boolean;
  wxn: boolean;
  tcrLo: number;
  tcrHi: number;
  ttbr0: number;
  ttbr1: number;
  asid: number;
}

export class Mmu {
  /** Tags (VA >> 12 as a double, -1 when invalid) by (el * 3 + access) * N + index. */
  private readonly tag = new Float64Array(6 * N).fill(-1);
  /** Physical address of the 4 KiB page of each entry. */
  private readonly pa = new Float64Array(N);
  /** Bit (log2 - 12) set for each page size up to 64 KiB cached since the last flush. */
  private sizes = 0;
  /** Entries filled from blocks (2 MiB and up) since the last flush, by block (number * 64 + log2 size). */
  private readonly blocks = new Map<number, number[]>();
  /** Bit (log2 - 12) set for each block size in `blocks`. */
  private blockSizes = 0;
  private blockEntries = 0;
  /** A tagged (TBI) address was cached: TLBI by VA cannot find all its entries. */
  private tagged = false;
  private r: Regime = { m: false, wxn: false, tcrLo: 0, tcrHi: 0, ttbr0: 0, ttbr1: 0, asid: 0 };

  // Result of the last successful walk.
  wPa = 0;
  wSize = 0;
  /** Permissions as bits: 1 EL0 read, 2 EL0 write, 4 EL0 exec, 8 EL1 read, 16 EL1 write, 32 EL1 exec. */
  wPerm = 0;
  wAttrIndx = 0;
  wSh = 0;

  constructor(private readonly bus: PagedMemory) {}

  /**
   * The registers that shape translation changed. A new ASID, TCR or SCTLR flushes the TLB; a new
   * table base with the same ASID does not (software follows it with TLBI, as on hardware).
   */
  configure(sctlr: bigint, tcr: bigint, ttbr0: bigint, ttbr1: bigint): void {
    const tcrLo = Number(tcr & 0xffffffffn);
    const tcrHi = Number((tcr >> 32n) & 0xffffffffn);
    const a1 = (tcrLo >>> 22) & 1;
    const asid16 = (tcrHi >>> 4) & 1;
    const asid = Number(((a1 ? ttbr1 : ttbr0) >> 48n) & (asid16 ? 0xffffn : 0xffn));
    const next: Regime = {
      m: (sctlr & 1n) === 1n,
      wxn: ((sctlr >> 19n) & 1n) === 1n,
      tcrLo,
      tcrHi,
      ttbr0: Number(ttbr0 & 0xfffffffffffen),
      ttbr1: Number(ttbr1 & 0xfffffffffffen),
      asid,
    };
    const old = this.r;
    if (
      next.m !== old.m ||
      next.wxn !== old.wxn ||
      tcrLo !== old.tcrLo ||
      tcrHi !== old.tcrHi ||
      asid !== old.asid
    )
      this.flush();
    this.r = next;
  }

  /** Physical address of an access at `el` (0 or 1); throws `Abort` on a fault. */
  translate(lo: number, hi: number, acc: number, el: number): number {
    const i = ((lo >>> 12) ^ hi) & MASK;
    if (this.tag[(el * 3 + acc) * N + i] === hi * 1048576 + (lo >>> 12)) return this.pa[i] + (lo & 0xfff);
    return this.fill(lo, hi, acc, el, i);
  }

  flush(): void {
    this.tag.fill(-1);
    this.sizes = 0;
    this.blocks.clear();
    this.blockSizes = 0;
    this.blockEntries = 0;
    this.tagged = false;
  }

  /** TLBI by VA: `lo`/`hi` is the virtual address (low 12 bits ignored). */
  invalidateVa(lo: number, hi: number): void {
    if (this.tagged) return this.flush();
    const key = hi * 1048576 + (lo >>> 12);
    for (let s = 0; s <= 4; s += 2) {
      if ((this.sizes & (1 << s)) === 0) continue;
      const count = 1 << s;
      const base = key - (key % count);
      for (let k = 0; k < count; k++) this.drop(base + k, (((lo >>> 12) - (key % count) + k) ^ hi) & MASK);
    }
    for (let s = 9; s <= 18; s++) {
      if ((this.blockSizes & (1 << s)) === 0) continue;
      const count = 2 ** s;
      const block = Math.floor(key / count);
      const entries = this.blocks.get(block * 64 + s);
      if (entries === undefined) continue;
      const base = block * count;
      for (const i of entries) {
        for (let t = 0; t < 6; t++) {
          const v = this.tag[t * N + i];
          if (v >= base && v < base + count) this.tag[t * N + i] = -1;
        }
      }
      this.blocks.delete(block * 64 + s);
    }
  }

  private drop(key: number, i: number): void {
    for (let t = 0; t < 6; t++) if (this.tag[t * N + i] === key) this.tag[t * N + i] = -1;
  }

  private fill(lo: number, hi: number, acc: number, el: number, i: number): number {
    const fsc = this.walk(lo, hi);
    if (fsc >= 0) throw new Abort(lo, hi, fsc, acc);
    const perm = this.wPerm;
    if ((perm & (1 << (el * 3 + acc))) === 0) throw new Abort(lo, hi, FSC.permission | this.wLevel, acc);
    const pa = this.wPa;
    if (pa >= TWO32) throw new Abort(lo, hi, FSC.external, acc);
    const key = hi * 1048576 + (lo >>> 12);
    for (let t = 0; t < 6; t++) this.tag[t * N + i] = perm & (1 << t) ? key : -1;
    this.pa[i] = pa;
    const s = this.wSize - 12;
    if (s <= 4) this.sizes |= 1 << s;
    else {
      if (this.blockEntries++ === BLOCK_ENTRIES_MAX) this.flush();
      const k = Math.floor(key / 2 ** s) * 64 + s;
      const entries = this.blocks.get(k);
      if (entries === undefined) this.blocks.set(k, [i]);
      else entries.push(i);
      this.blockSizes |= 1 << s;
    }
    if (hi >>> 24 !== ((hi >> 23) & 0xff)) this.tagged = true;
    return pa + (lo & 0xfff);
  }

  /** Level of the last walk's leaf or fault. */
  wLevel = 0;

  /**
   * Walks the tables for `lo`/`hi`. Returns -1 with wPa (the 4 KiB page), wPerm, wSize, wAttrIndx,
   * wSh set, or the fault status code (level included).
   */
  walk(lo: number, hi: number): number {
    const r = this.r;
    if (!r.m) {
      this.wLevel = 0;
      if (hi >>> (PA_BITS - 32) !== 0) return FSC.addressSize;
      this.wPa = hi * TWO32 + ((lo & ~0xfff) >>> 0);
      this.wPerm = 63;
      this.wSize = 12;
      this.wAttrIndx = -1;
      this.wSh = 0;
      return -1;
    }
    const upper = (hi >>> 23) & 1;
    const tcrLo = r.tcrLo;
    const tsz = Math.min(39, Math.max(16, upper ? (tcrLo >>> 16) & 63 : tcrLo & 63));
    const tbi = upper ? (r.tcrHi >>> 6) & 1 : (r.tcrHi >>> 5) & 1;
    const epd = upper ? (tcrLo >>> 23) & 1 : (tcrLo >>> 7) & 1;
    const tg = upper ? [14, 14, 12, 16][(tcrLo >>> 30) & 3] : [12, 16, 14, 12][(tcrLo >>> 14) & 3];
    const inputsize = 64 - tsz;
    this.wLevel = 0;
    // Bits [top:inputsize] must all equal bit 55 (the range select).
    const want = upper ? 0xffffffff : 0;
    const hiKeep = inputsize > 32 ? 2 ** (inputsize - 32) - 1 : 0;
    const hiMask = (tbi ? 0x00ffffff : 0xffffffff) & ~hiKeep;
    const loMask = inputsize < 32 ? ~(2 ** inputsize - 1) : 0;
    if (((hi ^ want) & hiMask) !== 0 || ((lo ^ want) & loMask) !== 0 || epd) return FSC.translation;
    const ips = Math.min(PA_BITS, IPS_BITS[r.tcrHi & 7]);
    const va = (hi & hiKeep) * TWO32 + (inputsize < 32 ? lo & (2 ** inputsize - 1) : lo);
    const stride = tg - 3;
    const start = 4 - Math.ceil((inputsize - tg) / stride);
    let table = upper ? r.ttbr1 : r.ttbr0;
    let apTable = 0;
    let uxnTable = 0;
    let pxnTable = 0;
    for (let level = start; level <= 3; level++) {
      this.wLevel = level;
      const shift = tg + (3 - level) * stride;
      const bits = level === start ? inputsize - shift : stride;
      const index = Math.floor(va / 2 ** shift) % 2 ** bits;
      // The table base's low bits are RES0 (a misaligned base walks from the aligned address).
      const at = table - (table % 2 ** Math.max(3, bits + 3)) + index * 8;
      if (at >= TWO32) return FSC.externalWalk | level;
      let dlo: number;
      let dhi: number;
      try {
        dlo = this.bus.r32(at);
        dhi = this.bus.r32(at + 4);
      } catch (e) {
        if (e instanceof MemoryFault) return FSC.externalWalk | level;
        throw e;
      }
      if ((dlo & 1) === 0) return FSC.translation | level;
      if (level < 3 && (dlo & 2) !== 0) {
        table = (dhi & 0xffff) * TWO32 + ((dlo & ~((1 << tg) - 1)) >>> 0);
        if (table >= 2 ** ips) return FSC.addressSize | level;
        pxnTable |= (dhi >>> 27) & 1;
        uxnTable |= (dhi >>> 28) & 1;
        apTable |= (dhi >>> 29) & 3;
        continue;
      }
      const blockOk = level === 3 ? (dlo & 2) !== 0 : level === 2 || (level === 1 && tg === 12);
      if (!blockOk) return FSC.translation | level;
      const oa = (dhi & 0xffff) * TWO32 + ((dlo & ~((2 ** shift - 1) | 0)) >>> 0);
      if (oa >= 2 ** ips) return FSC.addressSize | level;
      if ((dlo & 0x400) === 0) return FSC.accessFlag | level;
      const ap = (dlo >>> 6) & 3;
      const el0 = (ap & 1) === 1 && (apTable & 1) === 0;
      const ro = (ap & 2) !== 0 || (apTable & 2) !== 0;
      const uxn = ((dhi >>> 22) & 1) | uxnTable;
      const pxn = ((dhi >>> 21) & 1) | pxnTable;
      let perm = 8; // EL1 read
      if (!ro) perm |= 16;
      if (el0) perm |= ro ? 1 : 3;
      // SCTLR.WXN: nothing writable executes; and EL1 never executes what EL0 can write.
      const wxn = r.wxn && !ro;
      if (!uxn && !wxn) perm |= 4;
      if (!pxn && !wxn && !(el0 && !ro)) perm |= 32;
      this.wPerm = perm;
      this.wSize = shift;
      this.wPa = oa + Math.floor((va % 2 ** shift) / 4096) * 4096;
      this.wAttrIndx = (dlo >>> 2) & 7;
      this.wSh = (dlo >>> 8) & 3;
      return -1;
    }
    return FSC.translation | 3;
  }
}
