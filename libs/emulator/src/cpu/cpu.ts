import { decode, type Handler } from './decoder';
import { UndefinedInstruction, type GuestException, type ExceptionKind } from './exceptions';
import { MemoryFault, type PagedMemory } from './memory';
import { findSysReg, sysRegKey, SysRegs } from './sysregs';

const ELR_EL1 = sysRegKey(3, 0, 4, 0, 1);
const SPSR_EL1 = sysRegKey(3, 0, 4, 0, 0);

/** Where exceptions go: the user-mode syscall layer, or (system mode) the EL1/EL2 vectors. */
export interface ExceptionSink {
  exception(cpu: Cpu, e: GuestException): void;
}

/** Virtual to physical translation, called on every access when set (null: identity, below 4 GiB). */
export interface Mmu {
  translate(cpu: Cpu, lo: number, hi: number, access: 'r' | 'w' | 'x'): number;
}

interface CodePage {
  fns: (Handler | undefined)[];
  words: Int32Array;
}

const TWO32 = 4294967296;

/**
 * One AArch64 processing element. 64-bit values live as two uint32 halves (no BigInt on the hot
 * path): X registers in `x` as [lo, hi] pairs, index 31 the zero register, index 32 the stack pointer.
 */
export class Cpu {
  /** x0..x30 as lo/hi pairs; pair 31 always reads zero; pair 32 is SP. */
  readonly x = new Uint32Array(66);
  pcLo = 0;
  pcHi = 0;
  /** Address of the next instruction; branch handlers overwrite it. */
  npcLo = 0;
  npcHi = 0;
  n = 0;
  z = 0;
  c = 0;
  v = 0;
  /** Scratch results of 64-bit helpers (avoids allocating pairs). */
  rlo = 0;
  rhi = 0;
  /** V0..V31, 16 bytes each, little-endian element order. */
  readonly vbuf = new ArrayBuffer(32 * 16);
  readonly vb = new Uint8Array(this.vbuf);
  readonly vh = new Uint16Array(this.vbuf);
  readonly vw = new Uint32Array(this.vbuf);
  readonly vf32 = new Float32Array(this.vbuf);
  readonly vf64 = new Float64Array(this.vbuf);
  fpcr = 0;
  fpsr = 0;
  /** Current exception level and PSTATE bits the system emulator needs. */
  el = 0;
  daif = 0;
  spsel = 0;
  readonly sys = new SysRegs();
  /** Exclusive monitor: physical address armed by a load-exclusive, -1 when open. */
  exclusiveAddr = -1;
  mmu: Mmu | null = null;
  halted = false;
  /** Set to leave the inner loop at the next instruction boundary. */
  stop = false;
  instructions = 0;
  private cache = new Map<number, CodePage>();
  /** Code pages below 4 GiB by page number (the common case), others in `cache`. */
  private readonly lowPages = new Array<CodePage | undefined>(1 << 20);
  private readonly lowUsed: number[] = [];

  constructor(
    readonly mem: PagedMemory,
    public sink: ExceptionSink,
  ) {}

  get pc(): bigint {
    return (BigInt(this.pcHi) << 32n) | BigInt(this.pcLo);
  }

  set pc(v: bigint) {
    this.pcLo = Number(v & 0xffffffffn);
    this.pcHi = Number((v >> 32n) & 0xffffffffn);
  }

  getX(n: number): bigint {
    const i = n === 31 ? 64 : n << 1;
    return (BigInt(this.x[i + 1]) << 32n) | BigInt(this.x[i]);
  }

  /** Sets Xn (n = 31: SP). */
  setX(n: number, v: bigint): void {
    const i = n === 31 ? 64 : n << 1;
    this.x[i] = Number(v & 0xffffffffn);
    this.x[i + 1] = Number((v >> 32n) & 0xffffffffn);
  }

  get nzcv(): number {
    return (this.n << 31) | (this.z << 30) | (this.c << 29) | (this.v << 28);
  }

  set nzcv(f: number) {
    this.n = (f >>> 31) & 1;
    this.z = (f >>> 30) & 1;
    this.c = (f >>> 29) & 1;
    this.v = (f >>> 28) & 1;
  }

  /** Runs up to `limit` instructions; returns how many ran. */
  run(limit: number): number {
    let done = 0;
    while (done < limit && !this.halted) {
      this.stop = false;
      try {
        done += this.loop(limit - done);
      } catch (err) {
        done++;
        this.fault(err);
      }
    }
    this.instructions += done;
    return done;
  }

  /**
   * The hot loop: straight-line code runs within a 4 KiB code page without looking the page up
   * again; a branch within the page only moves the index. Handlers see the instruction's address
   * in pcLo/pcHi and may redirect npcLo/npcHi.
   */
  private loop(limit: number): number {
    let n = 0;
    while (n < limit) {
      const hi = this.pcHi;
      let lo = this.pcLo;
      const page = this.codePage(hi, lo);
      const fns = page.fns;
      const words = page.words;
      const base = lo & ~0xfff;
      let idx = (lo & 0xfff) >>> 2;
      for (;;) {
        let fn = fns[idx];
        if (fn === undefined) fn = this.decodeInto(page, idx, lo, hi);
        const next = lo + 4;
        // Branch handlers set both npcLo and npcHi; others leave npcLo at `next`.
        this.npcLo = next;
        fn(this, words[idx]);
        n++;
        const npc = this.npcLo;
        if (npc === next && idx !== 1023) {
          idx++;
          lo = next;
          this.pcLo = lo;
        } else if (this.npcHi === hi && (npc & ~0xfff) === base && npc !== 4294967296) {
          lo = npc;
          idx = (lo & 0xfff) >>> 2;
          this.pcLo = lo;
        } else {
          this.pcLo = npc >>> 0;
          this.pcHi = npc === 4294967296 ? (hi + 1) >>> 0 : this.npcHi;
          break;
        }
        if (this.stop || n >= limit) return n;
      }
      if (this.stop) break;
    }
    return n;
  }

  private codePage(hi: number, lo: number): CodePage {
    const k = hi === 0 ? lo >>> 12 : hi * 1048576 + (lo >>> 12);
    let page = hi === 0 ? this.lowPages[k] : this.cache.get(k);
    if (page === undefined) {
      page = { fns: new Array<Handler | undefined>(1024).fill(undefined), words: new Int32Array(1024) };
      if (hi === 0) {
        this.lowPages[k] = page;
        this.lowUsed.push(k);
      } else this.cache.set(k, page);
    }
    return page;
  }

  private decodeInto(page: CodePage, idx: number, lo: number, hi: number): Handler {
    if ((lo & 3) !== 0) throw new AlignmentFault(lo, hi);
    const word = this.mem.r32(this.translate(lo, hi, 'x')) | 0;
    page.words[idx] = word;
    const fn = decode(word);
    page.fns[idx] = fn;
    return fn;
  }

  /** Forgets decoded instructions (IC IVAU / IALLU, and when the code's memory is remapped). */
  invalidateCode(): void {
    this.cache.clear();
    for (const k of this.lowUsed) this.lowPages[k] = undefined;
    this.lowUsed.length = 0;
    this.stop = true;
  }

  /** Raises a synchronous exception for the current instruction (SVC, HVC, BRK...). */
  raise(kind: ExceptionKind, insn: number, imm: number): void {
    this.stop = true;
    this.sink.exception(this, { kind, pc: this.pc, insn, imm });
  }

  private fault(err: unknown): void {
    const pc = this.pc;
    if (err instanceof UndefinedInstruction) {
      this.sink.exception(this, { kind: 'undefined', pc, insn: err.insn, imm: 0 });
    } else if (err instanceof MemoryFault) {
      const fetch = err.address === this.pcLo + this.pcHi * TWO32 && !err.write;
      this.sink.exception(this, {
        kind: fetch ? 'instruction-abort' : 'data-abort',
        pc,
        insn: 0,
        imm: 0,
        address: BigInt(err.address),
        write: err.write,
      });
    } else if (err instanceof AlignmentFault) {
      this.sink.exception(this, { kind: 'alignment', pc, insn: 0, imm: 0, address: err.address });
    } else {
      throw err;
    }
  }

  /** Xn with 31 as the zero register. */
  getXzr(n: number): bigint {
    return n === 31 ? 0n : this.getX(n);
  }

  /** WFI: in user mode a no-op; the system emulator overrides to wait for an interrupt. */
  waitForInterrupt(): void {
    this.stop = true;
  }

  /** TLBI: drop cached translations (and the decode cache, keyed by virtual address). */
  tlbInvalidate(): void {
    this.invalidateCode();
  }

  /** AT S1E1R etc.: needs the MMU of the system emulator. */
  addressTranslate(insn: number): void {
    throw new UndefinedInstruction(insn, 'AT needs the system emulator MMU');
  }

  /** ERET: restore PC from ELR_EL1 and PSTATE from SPSR_EL1 (EL1 → EL0/EL1). */
  exceptionReturn(): void {
    const elr = this.sys.read(this, findSysReg(ELR_EL1)!, ELR_EL1);
    const spsr = Number(this.sys.read(this, findSysReg(SPSR_EL1)!, SPSR_EL1));
    this.nzcv = spsr & 0xf0000000;
    this.daif = (spsr >>> 6) & 0xf;
    this.el = (spsr >>> 2) & 3;
    this.spsel = spsr & 1;
    this.npcLo = Number(elr & 0xffffffffn);
    this.npcHi = Number((elr >> 32n) & 0xffffffffn);
    this.invalidateCode();
  }

  translate(lo: number, hi: number, access: 'r' | 'w' | 'x'): number {
    if (this.mmu !== null) return this.mmu.translate(this, lo, hi, access);
    if (hi !== 0) throw new MemoryFault(hi * TWO32 + lo, access === 'w');
    return lo;
  }

  // --- Data accesses (virtual address as lo/hi) ---

  ld8(lo: number, hi: number): number {
    return this.mem.r8(this.translate(lo, hi, 'r'));
  }
  ld16(lo: number, hi: number): number {
    return this.mem.r16(this.translate(lo, hi, 'r'));
  }
  ld32(lo: number, hi: number): number {
    return this.mem.r32(this.translate(lo, hi, 'r'));
  }
  /** 64-bit load into rlo/rhi. */
  ld64(lo: number, hi: number): void {
    const pa = this.translate(lo, hi, 'r');
    this.rlo = this.mem.r32(pa);
    this.rhi = this.mem.r32(pa + 4);
  }
  st8(lo: number, hi: number, v: number): void {
    this.mem.w8(this.translate(lo, hi, 'w'), v);
  }
  st16(lo: number, hi: number, v: number): void {
    this.mem.w16(this.translate(lo, hi, 'w'), v);
  }
  st32(lo: number, hi: number, v: number): void {
    this.mem.w32(this.translate(lo, hi, 'w'), v);
  }
  st64(lo: number, hi: number, vlo: number, vhi: number): void {
    const pa = this.translate(lo, hi, 'w');
    this.mem.w32(pa, vlo);
    this.mem.w32(pa + 4, vhi);
  }
}

export class AlignmentFault extends Error {
  readonly address: bigint;
  constructor(lo: number, hi: number) {
    super('alignment fault');
    this.address = (BigInt(hi) << 32n) | BigInt(lo);
  }
}
