import type { IrqLine } from '../devices/device';
import { decode, type Handler } from './decoder';
import { Abort, EC, UndefinedInstruction, type GuestException, type ExceptionKind } from './exceptions';
import { MemoryFault, type PagedMemory } from './memory';
import { ACC_R, ACC_W, ACC_X, FSC, Mmu } from './mmu';
import type { SystemConfig } from './platform';
import { SYS, SysRegs } from './sysregs';
import { GenericTimer } from './timer';

/** Where exceptions go in user mode: the syscall layer. (System mode takes them to the EL1 vectors.) */
export interface ExceptionSink {
  exception(cpu: Cpu, e: GuestException): void;
}

interface CodePage {
  fns: (Handler | undefined)[];
  words: Int32Array;
  /** Physical address of the page. */
  pa: number;
}

const TWO32 = 4294967296;
/** PSTATE.{A,I,F} in `Cpu.daif` (D is bit 3). */
const DAIF_A = 4;
const DAIF_I = 2;
const DAIF_F = 1;

/**
 * One AArch64 processing element. 64-bit values live as two uint32 halves (no BigInt on the hot
 * path): X registers in `x` as [lo, hi] pairs, index 31 the zero register, index 32 the stack pointer.
 *
 * User mode (`new Cpu(memory, sink)`): EL0, VA = PA below 4 GiB, exceptions to the sink.
 * System mode (`Cpu.system(bus, config)`): EL0/EL1 with the MMU (mmu.ts), exceptions through
 * VBAR_EL1, IRQ/FIQ/SError inputs, the generic timer and the GIC CPU interface (platform.ts).
 */
export class Cpu {
  /** x0..x30 as lo/hi pairs; pair 31 always reads zero; pair 32 is the current SP. */
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
  /** PSTATE: exception level, D/A/I/F mask bits (D = 8 ... F = 1), SP selection. */
  el = 0;
  daif = 0;
  spsel = 0;
  /** The stack pointer not in use: [SP_EL0 lo, hi, SP_EL1 lo, hi]; x[64..65] holds the current one. */
  private readonly spBank = new Uint32Array(4);
  /** The EL whose permissions data accesses use: `el`, or 0 for LDTR/STTR. */
  memEl = 0;
  readonly sys = new SysRegs();
  /** Exclusive monitor: address armed by a load-exclusive, -1 when open. */
  exclusiveAddr = -1;
  /** System mode's MMU; null in user mode (VA = PA below 4 GiB). */
  readonly mmu: Mmu | null;
  readonly timer: GenericTimer | null;
  /** Interrupt inputs (level-sensitive), driven by the interrupt controller. */
  readonly irq: IrqLine = { set: (level) => this.input(level, this.fiqLevel) };
  readonly fiq: IrqLine = { set: (level) => this.input(this.irqLevel, level) };
  private irqLevel = false;
  private fiqLevel = false;
  private serrorPending = false;
  /** The event register (WFE/SEV). */
  private event = false;
  /** WFI/WFE with nothing pending: `run` returns until an input rises or guest time reaches wakeAtNs. */
  waiting = false;
  wakeAtNs = Infinity;
  halted = false;
  /** Set to leave the inner loop at the next instruction boundary. */
  stop = false;
  instructions = 0;
  /** Instructions the inner loop completed before an instruction threw. */
  private completed = 0;
  /** Decoded code pages by physical page number (4 KiB). */
  private readonly codePages = new Array<CodePage | undefined>(1 << 20);
  private readonly used: number[] = [];

  constructor(
    readonly mem: PagedMemory,
    public sink: ExceptionSink | null,
    readonly config: SystemConfig | null = null,
  ) {
    this.mmu = config === null ? null : new Mmu(mem);
    this.timer = config === null ? null : new GenericTimer(config.clock, config.timerIrq);
  }

  /** A PE in system mode, at reset: EL1, SP_EL1, interrupts masked, MMU off, PC 0. */
  static system(bus: PagedMemory, config: SystemConfig): Cpu {
    const cpu = new Cpu(bus, null, config);
    cpu.reset();
    return cpu;
  }

  /** Warm reset (system mode): registers to their reset values, PC = `pc`. */
  reset(pc = 0n): void {
    this.x.fill(0);
    this.spBank.fill(0);
    this.sys.clear();
    this.el = 1;
    this.spsel = 1;
    this.memEl = 1;
    this.daif = 0xf;
    this.nzcv = 0;
    this.exclusiveAddr = -1;
    this.waiting = false;
    this.halted = false;
    this.pc = pc;
    this.translationChanged();
    this.invalidateCode();
  }

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

  /**
   * Runs up to `limit` instructions; returns how many ran. Returns early when the PE waits for an
   * interrupt (`waiting`) or halts. Pending unmasked interrupts are taken between instructions.
   */
  run(limit: number): number {
    let done = 0;
    if (this.waiting && this.timer !== null && this.timer.clock.nowNs() >= this.wakeAtNs)
      this.waiting = false;
    while (done < limit && !this.halted) {
      if ((this.irqLevel || this.fiqLevel || this.serrorPending) && this.interrupt()) continue;
      if (this.waiting) break;
      this.stop = false;
      try {
        done += this.loop(limit - done);
      } catch (err) {
        done += this.completed + 1;
        this.fault(err);
      }
    }
    this.instructions += done;
    return done;
  }

  /**
   * The hot loop: straight-line code runs within a 4 KiB code page without looking the page up
   * again; a branch within the page only moves the index. Handlers see the instruction's address
   * in pcLo/pcHi and may redirect npcLo/npcHi. Anything that changes translation or PSTATE sets
   * `stop`, so the next page lookup (and permission check) happens afresh.
   */
  private loop(limit: number): number {
    let n = 0;
    try {
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
    } catch (err) {
      this.completed = n;
      throw err;
    }
    return n;
  }

  private codePage(hi: number, lo: number): CodePage {
    const pa = this.translate(lo, hi, ACC_X);
    const k = pa >>> 12;
    let page = this.codePages[k];
    if (page === undefined) {
      page = {
        fns: new Array<Handler | undefined>(1024).fill(undefined),
        words: new Int32Array(1024),
        pa: (pa & ~0xfff) >>> 0,
      };
      this.codePages[k] = page;
      this.used.push(k);
    }
    return page;
  }

  private decodeInto(page: CodePage, idx: number, lo: number, hi: number): Handler {
    if ((lo & 3) !== 0) throw new AlignmentFault(lo, hi);
    let word: number;
    try {
      word = this.mem.r32(page.pa + idx * 4) | 0;
    } catch (e) {
      if (e instanceof MemoryFault) throw new Abort(lo, hi, FSC.external, ACC_X);
      throw e;
    }
    page.words[idx] = word;
    const fn = decode(word);
    page.fns[idx] = fn;
    return fn;
  }

  /** Forgets decoded instructions (IC IALLU, and when the code's memory is remapped). */
  invalidateCode(): void {
    for (const k of this.used) this.codePages[k] = undefined;
    this.used.length = 0;
    this.stop = true;
  }

  /** IC IVAU: forgets the decoded page holding virtual address lo/hi (if it translates). */
  invalidateCodeAt(lo: number, hi: number): void {
    let pa = lo;
    if (this.mmu !== null) {
      if (this.mmu.walk(lo, hi) >= 0) return;
      pa = this.mmu.wPa;
    } else if (hi !== 0) return;
    if (pa >= TWO32 || this.codePages[pa >>> 12] === undefined) return;
    this.codePages[pa >>> 12] = undefined;
    this.stop = true;
  }

  /** Raises a synchronous exception for the current instruction (SVC, HVC, BRK...). */
  raise(kind: ExceptionKind, insn: number, imm: number): void {
    this.stop = true;
    if (this.sink !== null) {
      this.sink.exception(this, { kind, pc: this.pc, insn, imm });
      return;
    }
    switch (kind) {
      case 'svc':
        this.takeSync(
          EC.svc,
          imm,
          this.npcLo >>> 0,
          this.npcLo > 0xffffffff ? (this.pcHi + 1) >>> 0 : this.pcHi,
        );
        return;
      case 'hvc':
      case 'smc':
        if (this.config?.firmware?.call(this, kind, imm)) return;
        this.takeSync(EC.unknown, 0, this.pcLo, this.pcHi);
        return;
      case 'brk':
        this.takeSync(EC.brk, imm, this.pcLo, this.pcHi);
        return;
      default:
        this.takeSync(EC.unknown, 0, this.pcLo, this.pcHi);
    }
  }

  private fault(err: unknown): void {
    if (this.sink !== null) return this.userFault(this.sink, err);
    const pcLo = this.pcLo;
    const pcHi = this.pcHi;
    if (err instanceof Abort) {
      const fetch = err.access === ACC_X;
      const lower = this.el === 0;
      const ec = fetch ? (lower ? EC.iabortLower : EC.iabortSame) : lower ? EC.dabortLower : EC.dabortSame;
      this.takeSync(ec, err.fsc | (err.access === ACC_W ? 1 << 6 : 0), pcLo, pcHi, err.lo, err.hi);
    } else if (err instanceof UndefinedInstruction) {
      this.takeSync(EC.unknown, 0, pcLo, pcHi);
    } else if (err instanceof MemoryFault) {
      // No device answered a data access: external abort; the bus knows only the PA, so FnV.
      const iss = FSC.external | (1 << 10) | (err.write ? 1 << 6 : 0);
      this.takeSync(this.el === 0 ? EC.dabortLower : EC.dabortSame, iss, pcLo, pcHi, 0, 0);
    } else if (err instanceof AlignmentFault) {
      this.takeSync(EC.pcAlignment, 0, pcLo, pcHi, err.lo, err.hi);
    } else {
      throw err;
    }
  }

  private userFault(sink: ExceptionSink, err: unknown): void {
    const pc = this.pc;
    if (err instanceof UndefinedInstruction) {
      sink.exception(this, { kind: 'undefined', pc, insn: err.insn, imm: 0 });
    } else if (err instanceof Abort) {
      sink.exception(this, {
        kind: err.access === ACC_X ? 'instruction-abort' : 'data-abort',
        pc,
        insn: 0,
        imm: 0,
        address: (BigInt(err.hi) << 32n) | BigInt(err.lo),
        write: err.access === ACC_W,
      });
    } else if (err instanceof MemoryFault) {
      const fetch = err.address === this.pcLo + this.pcHi * TWO32 && !err.write;
      sink.exception(this, {
        kind: fetch ? 'instruction-abort' : 'data-abort',
        pc,
        insn: 0,
        imm: 0,
        address: BigInt(err.address),
        write: err.write,
      });
    } else if (err instanceof AlignmentFault) {
      const address = (BigInt(err.hi) << 32n) | BigInt(err.lo);
      sink.exception(this, { kind: 'alignment', pc, insn: 0, imm: 0, address });
    } else {
      throw err;
    }
  }

  // --- System mode: exception entry and return, PSTATE, interrupts ---

  /**
   * A synchronous exception to EL1: ESR_EL1 = EC, IL (32-bit instruction), ISS; FAR_EL1 for aborts;
   * ELR_EL1 = the preferred return address (retLo/retHi).
   */
  takeSync(ec: number, iss: number, retLo: number, retHi: number, farLo = -1, farHi = 0): void {
    this.sys.setPair(SYS.ESR_EL1, ((ec << 26) | (1 << 25) | iss) >>> 0, 0);
    if (farLo !== -1) this.sys.setPair(SYS.FAR_EL1, farLo >>> 0, farHi >>> 0);
    this.enter(0, retLo, retHi);
  }

  /**
   * Exception entry to EL1 at VBAR_EL1 + (source: current EL with SP_EL0 0x000, SP_ELx 0x200, lower
   * EL 0x400) + `offset` (sync 0, IRQ 0x80, FIQ 0x100, SError 0x180).
   */
  private enter(offset: number, retLo: number, retHi: number): void {
    const s = this.sys;
    s.setPair(SYS.SPSR_EL1, (this.nzcv | (this.daif << 6) | (this.el << 2) | this.spsel) >>> 0, 0);
    s.setPair(SYS.ELR_EL1, retLo >>> 0, retHi >>> 0);
    const source = this.el === 0 ? 0x400 : this.spsel ? 0x200 : 0;
    this.setPstate(1, 1);
    this.daif = 0xf;
    // VBAR_EL1 is 2 KiB aligned and the offset below 2 KiB: no carry into the high half.
    this.pcLo = this.npcLo = ((s.low(SYS.VBAR_EL1) & ~0x7ff) | (source + offset)) >>> 0;
    this.pcHi = this.npcHi = s.high(SYS.VBAR_EL1);
    this.exclusiveAddr = -1;
    this.stop = true;
  }

  /** ERET: PC from ELR_EL1, PSTATE from SPSR_EL1 (to EL0 or EL1, AArch64 only). */
  exceptionReturn(insn: number): void {
    const spsr = this.sys.low(SYS.SPSR_EL1);
    const el = (spsr >>> 2) & 3;
    if ((spsr & 0x10) !== 0 || el > this.el || (el === 0 && (spsr & 1) !== 0))
      throw new UndefinedInstruction(insn, `illegal exception return (SPSR 0x${spsr.toString(16)})`);
    this.nzcv = spsr & 0xf0000000;
    this.daif = (spsr >>> 6) & 0xf;
    this.setPstate(el, spsr & 1);
    this.npcLo = this.sys.low(SYS.ELR_EL1);
    this.npcHi = this.sys.high(SYS.ELR_EL1);
    this.exclusiveAddr = -1;
    this.event = true;
    this.stop = true;
  }

  /** Moves to `el` with SP selection `spsel`, banking the stack pointers. */
  setPstate(el: number, spsel: number): void {
    const cur = this.el === 0 || this.spsel === 0 ? 0 : 2;
    const next = el === 0 || spsel === 0 ? 0 : 2;
    if (cur !== next) {
      const x = this.x;
      const b = this.spBank;
      b[cur] = x[64];
      b[cur + 1] = x[65];
      x[64] = b[next];
      x[65] = b[next + 1];
    }
    this.el = el;
    this.spsel = spsel;
    this.memEl = el;
    this.stop = true;
  }

  /** SP_EL0 as MRS sees it from EL1, into rlo/rhi. */
  readSpEl0(): void {
    const inUse = this.el === 0 || this.spsel === 0;
    this.rlo = inUse ? this.x[64] : this.spBank[0];
    this.rhi = inUse ? this.x[65] : this.spBank[1];
  }

  writeSpEl0(lo: number, hi: number): void {
    const b = this.el === 0 || this.spsel === 0 ? this.x : this.spBank;
    const i = b === this.x ? 64 : 0;
    b[i] = lo;
    b[i + 1] = hi;
  }

  private input(irq: boolean, fiq: boolean): void {
    const rose = (irq && !this.irqLevel) || (fiq && !this.fiqLevel);
    this.irqLevel = irq;
    this.fiqLevel = fiq;
    if (rose) {
      this.waiting = false;
      this.stop = true;
    }
  }

  /** Writes PSTATE.DAIF; an unmasked pending interrupt is taken before the next instruction. */
  setDaif(daif: number): void {
    this.daif = daif;
    if (this.irqLevel || this.fiqLevel || this.serrorPending) this.stop = true;
  }

  /** An asynchronous external abort (SError), taken when PSTATE.A is clear. */
  serror(): void {
    this.serrorPending = true;
    this.waiting = false;
    this.stop = true;
  }

  /** Takes the highest-priority pending unmasked interrupt; false when all are masked. */
  private interrupt(): boolean {
    const m = this.daif;
    let offset: number;
    if (this.serrorPending && (m & DAIF_A) === 0) {
      this.serrorPending = false;
      this.sys.setPair(SYS.ESR_EL1, ((EC.serror << 26) | (1 << 25)) >>> 0, 0);
      offset = 0x180;
    } else if (this.fiqLevel && (m & DAIF_F) === 0) offset = 0x100;
    else if (this.irqLevel && (m & DAIF_I) === 0) offset = 0x80;
    else return false;
    this.waiting = false;
    this.enter(offset, this.pcLo, this.pcHi);
    return true;
  }

  /** WFI: in user mode a no-op; in system mode the PE waits unless an interrupt input is high. */
  waitForInterrupt(): void {
    this.stop = true;
    if (this.sink !== null || this.irqLevel || this.fiqLevel || this.serrorPending) return;
    this.waiting = true;
    this.wakeAtNs = Infinity;
  }

  /**
   * WFE: consumes the event register if set; otherwise waits like WFI, but at most until the next
   * event of the timer's event stream (CNTKCTL_EL1.EVNTEN/EVNTI), which is what wakes a WFE loop
   * on a single PE.
   */
  waitForEvent(): void {
    if (this.event) {
      this.event = false;
      return;
    }
    this.waitForInterrupt();
    if (!this.waiting || this.timer === null) return;
    const kctl = Number(this.sys.get(SYS.CNTKCTL_EL1) & 0xffn);
    if ((kctl & 4) === 0) return;
    const period = 2 ** (((kctl >>> 4) & 15) + 1);
    const count = Math.floor(this.timer.clock.nowNs() / 16);
    this.wakeAtNs = (count - (count % period) + period) * 16;
  }

  /** SEV/SEVL: sets the event register (one PE: SEV has no one else to signal). */
  sendEvent(): void {
    this.event = true;
  }

  /** The MMU registers changed (MSR of SCTLR/TCR/TTBR0/TTBR1_EL1). */
  translationChanged(): void {
    const s = this.sys;
    this.mmu?.configure(s.get(SYS.SCTLR_EL1), s.get(SYS.TCR_EL1), s.get(SYS.TTBR0_EL1), s.get(SYS.TTBR1_EL1));
    this.stop = true;
  }

  /** TLBI (op1 = 0, CRn = 8): by VA (Xt[43:0] = VA[55:12]) drops that address; the rest flush all. */
  tlbInvalidate(crm: number, op2: number, t: number): void {
    this.stop = true;
    const mmu = this.mmu;
    if (mmu === null) return;
    if ((crm === 3 || crm === 7) && (op2 & 1) === 1) {
      const lo = this.x[t << 1];
      const hi = this.x[(t << 1) | 1];
      const vaHi = ((lo >>> 20) | ((hi & 0xfff) << 12) | ((hi >>> 11) & 1 ? 0xff000000 : 0)) >>> 0;
      mmu.invalidateVa((lo << 12) >>> 0, vaHi);
    } else mmu.flush();
  }

  /** AT S1E1R/W, S1E0R/W: translates Xt as that EL's read/write would, into PAR_EL1. */
  addressTranslate(insn: number): void {
    const op1 = (insn >>> 16) & 7;
    const crm = (insn >>> 8) & 15;
    const op2 = (insn >>> 5) & 7;
    const mmu = this.mmu;
    if (mmu === null || op1 !== 0 || crm !== 8 || op2 > 3)
      throw new UndefinedInstruction(insn, 'AT operation');
    const t = insn & 31;
    const lo = this.x[t << 1];
    const hi = this.x[(t << 1) | 1];
    let fsc = mmu.walk(lo, hi);
    if (fsc < 0 && (mmu.wPerm & (1 << ((op2 >>> 1 ? 0 : 3) + (op2 & 1)))) === 0)
      fsc = FSC.permission | mmu.wLevel;
    let par: bigint;
    if (fsc >= 0) par = BigInt(1 | (fsc << 1));
    else {
      const attr = mmu.wAttrIndx < 0 ? 0n : (this.sys.get(SYS.MAIR_EL1) >> BigInt(8 * mmu.wAttrIndx)) & 0xffn;
      const sh = mmu.wAttrIndx < 0 ? 2 : mmu.wSh;
      par = (attr << 56n) | BigInt(mmu.wPa) | BigInt(sh << 7);
    }
    this.sys.set(SYS.PAR_EL1, par);
  }

  translate(lo: number, hi: number, access: number): number {
    const mmu = this.mmu;
    if (mmu !== null) return mmu.translate(lo, hi, access, access === ACC_X ? this.el : this.memEl);
    if (hi !== 0) throw new MemoryFault(hi * TWO32 + lo, access === ACC_W);
    return lo;
  }

  // --- Data accesses (virtual address as lo/hi); an access crossing a 4 KiB page goes bytewise ---

  ld8(lo: number, hi: number): number {
    return this.mem.r8(this.translate(lo, hi, ACC_R));
  }
  ld16(lo: number, hi: number): number {
    if ((lo & 0xfff) > 0xffe) return this.ldBytes(lo, hi, 2);
    return this.mem.r16(this.translate(lo, hi, ACC_R));
  }
  ld32(lo: number, hi: number): number {
    if ((lo & 0xfff) > 0xffc) return this.ldBytes(lo, hi, 4);
    return this.mem.r32(this.translate(lo, hi, ACC_R));
  }
  /** 64-bit load into rlo/rhi. */
  ld64(lo: number, hi: number): void {
    if ((lo & 0xfff) > 0xff8) {
      const a = this.ldBytes(lo, hi, 4);
      const l2 = (lo + 4) >>> 0;
      this.rhi = this.ldBytes(l2, l2 < lo ? (hi + 1) >>> 0 : hi, 4);
      this.rlo = a;
      return;
    }
    const pa = this.translate(lo, hi, ACC_R);
    this.rlo = this.mem.r32(pa);
    this.rhi = this.mem.r32(pa + 4);
  }
  st8(lo: number, hi: number, v: number): void {
    this.mem.w8(this.translate(lo, hi, ACC_W), v);
  }
  st16(lo: number, hi: number, v: number): void {
    if ((lo & 0xfff) > 0xffe) return this.stBytes(lo, hi, 2, v);
    this.mem.w16(this.translate(lo, hi, ACC_W), v);
  }
  st32(lo: number, hi: number, v: number): void {
    if ((lo & 0xfff) > 0xffc) return this.stBytes(lo, hi, 4, v);
    this.mem.w32(this.translate(lo, hi, ACC_W), v);
  }
  st64(lo: number, hi: number, vlo: number, vhi: number): void {
    if ((lo & 0xfff) > 0xff8) {
      const l2 = (lo + 7) >>> 0;
      this.translate(l2, l2 < lo ? (hi + 1) >>> 0 : hi, ACC_W);
      this.stBytes(lo, hi, 4, vlo);
      const l4 = (lo + 4) >>> 0;
      this.stBytes(l4, l4 < lo ? (hi + 1) >>> 0 : hi, 4, vhi);
      return;
    }
    const pa = this.translate(lo, hi, ACC_W);
    this.mem.w32(pa, vlo);
    this.mem.w32(pa + 4, vhi);
  }

  private ldBytes(lo: number, hi: number, n: number): number {
    let v = 0;
    for (let k = n - 1; k >= 0; k--) {
      const a = (lo + k) >>> 0;
      v = v * 256 + this.ld8(a, a < lo ? (hi + 1) >>> 0 : hi);
    }
    return v >>> 0;
  }

  private stBytes(lo: number, hi: number, n: number, v: number): void {
    // Translate the last byte first, so a fault on the second page leaves memory unchanged.
    const last = (lo + n - 1) >>> 0;
    this.translate(last, last < lo ? (hi + 1) >>> 0 : hi, ACC_W);
    for (let k = 0; k < n; k++) {
      const a = (lo + k) >>> 0;
      this.st8(a, a < lo ? (hi + 1) >>> 0 : hi, (v >>> (8 * k)) & 0xff);
    }
  }
}

export class AlignmentFault extends Error {
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {
    super('alignment fault');
  }
}
