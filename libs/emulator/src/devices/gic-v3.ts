/**
 * GICv3 (IHI 0069) as QEMU's `virt` has it with `gic-version=3` and no EL3: a single security
 * state (GICD_CTLR.DS = 1, affinity routing always on), the distributor at 0x0800_0000, one
 * redistributor per PE (RD_base and SGI_base frames, 128 KiB) from 0x080a_0000, and the CPU
 * interface as the ICC_* system registers (`icc(pe)`). Group 0 is signalled as FIQ, group 1 as
 * IRQ. LPIs are not implemented (GICD_TYPER.LPIS = 0), so no ITS is used.
 */
import type { IccInterface, IccRegister } from '../cpu/platform';
import type { IrqLine, MmioDevice } from './device';
import { GicCore, SPURIOUS } from './gic-core';

const GICD_CTLR = 0x0000;
const GICD_TYPER = 0x0004;
const GICD_IIDR = 0x0008;
const GICD_IROUTER = 0x6000;
const PIDR2 = 0xffe8;
const CTLR_DS = 1 << 6;
const CTLR_ARE = 1 << 4;

const FRAME = 0x10000;
const GICR_CTLR = 0x0000;
const GICR_IIDR = 0x0004;
const GICR_TYPER = 0x0008;
const GICR_WAKER = 0x0014;
/** Priority bits of the CPU interface (QEMU's Cortex-A57: 5). */
const PRI_BITS = 5;

export interface GicV3Options {
  irqs: number;
  outputs: { irq: IrqLine; fiq: IrqLine }[];
}

export class GicV3 {
  readonly core: GicCore;
  readonly distributor: MmioDevice;
  readonly redistributors: MmioDevice;
  private readonly waker: number[];
  /** IROUTER high words (Aff3), kept for read-back; routing uses Aff0 with one cluster. */
  private readonly routeHi: Uint32Array;
  private readonly routeLo: Uint32Array;

  constructor(o: GicV3Options) {
    this.core = new GicCore({ irqs: o.irqs, outputs: o.outputs, group0IsFiq: true, priorityBits: PRI_BITS });
    this.core.v3Routing = true;
    this.waker = o.outputs.map(() => 0b110);
    this.routeHi = new Uint32Array(o.irqs);
    this.routeLo = new Uint32Array(o.irqs);
    this.distributor = {
      read: (off, size) => this.distRead(off, size),
      write: (off, size, v) => this.distWrite(off, size, v),
    };
    this.redistributors = {
      read: (off, size) => this.redistRead(off, size),
      write: (off, size, v) => this.redistWrite(off, size, v),
    };
  }

  reset(): void {
    this.core.reset();
    this.waker.fill(0b110);
    this.routeHi.fill(0);
    this.routeLo.fill(0);
  }

  line(intid: number, pe = 0): IrqLine {
    return this.core.line(intid, pe);
  }

  private distRead(off: number, size: number): number {
    const c = this.core;
    if (off === GICD_CTLR) return (c.distEnable & 3) | CTLR_ARE | CTLR_DS;
    // ITLinesNumber, IDbits = 16 bits, no LPIs, no security extension, A3V.
    if (off === GICD_TYPER) return ((c.irqs / 32 - 1) & 0x1f) | (15 << 19) | (1 << 24);
    if (off === GICD_IIDR) return 0x0300043b;
    if (off === PIDR2) return 0x3b;
    if (off >= GICD_IROUTER && off < GICD_IROUTER + 8 * c.irqs) {
      const intid = (off - GICD_IROUTER) >> 3;
      if (intid < 32) return 0;
      return (off & 4) === 0 ? this.routeLo[intid] : this.routeHi[intid];
    }
    // With affinity routing, the distributor's copies of SGI/PPI registers are RAZ/WI.
    const spiReg = (base: number) => (off >= base + 4 && off < base + 0x80 ? (off - base) * 8 : -1);
    const pe = 0;
    let first: number;
    if ((first = spiReg(0x080)) >= 0) return c.readBits(pe, first, 'group');
    if ((first = spiReg(0x100)) >= 0 || (first = spiReg(0x180)) >= 0) return c.readBits(pe, first, 'enabled');
    if ((first = spiReg(0x200)) >= 0 || (first = spiReg(0x280)) >= 0) return c.readBits(pe, first, 'pending');
    if ((first = spiReg(0x300)) >= 0 || (first = spiReg(0x380)) >= 0) return c.readBits(pe, first, 'active');
    if (off >= 0x420 && off < 0x800) return c.readPriority(pe, off - 0x400, size);
    if (off >= 0xc08 && off < 0xd00) return c.readConfig(pe, ((off - 0xc00) / 4) * 16);
    return 0;
  }

  private distWrite(off: number, size: number, v: number): void {
    const c = this.core;
    if (off === GICD_CTLR) {
      c.distEnable = v & 3;
      c.update();
      return;
    }
    if (off >= GICD_IROUTER && off < GICD_IROUTER + 8 * c.irqs) {
      const intid = (off - GICD_IROUTER) >> 3;
      if (intid < 32) return;
      if ((off & 4) === 0) this.routeLo[intid] = v >>> 0;
      else this.routeHi[intid] = v >>> 0;
      // IRM (bit 31): any PE; else the PE whose affinity is Aff0 (one cluster of PEs).
      const lo = this.routeLo[intid];
      c.target[intid] =
        lo & 0x8000_0000 ? -1 : (lo & 0xffffff) === (lo & 0xff) && this.routeHi[intid] === 0 ? lo & 0xff : -2;
      c.update();
      return;
    }
    const spiReg = (base: number) => (off >= base + 4 && off < base + 0x80 ? (off - base) * 8 : -1);
    const pe = 0;
    let first: number;
    if ((first = spiReg(0x080)) >= 0) {
      for (let b = 0; b < 32; b++) if (first + b < c.irqs) c.group[c.idx(pe, first + b)] = (v >>> b) & 1;
      c.update();
    } else if ((first = spiReg(0x100)) >= 0) c.writeBits(pe, first, v, 'enabled', 1);
    else if ((first = spiReg(0x180)) >= 0) c.writeBits(pe, first, v, 'enabled', 0);
    else if ((first = spiReg(0x200)) >= 0) c.writeBits(pe, first, v, 'pendLatch', 1);
    else if ((first = spiReg(0x280)) >= 0) c.writeBits(pe, first, v, 'pendLatch', 0);
    else if ((first = spiReg(0x300)) >= 0) c.writeBits(pe, first, v, 'active', 1);
    else if ((first = spiReg(0x380)) >= 0) c.writeBits(pe, first, v, 'active', 0);
    else if (off >= 0x420 && off < 0x800) c.writePriority(pe, off - 0x400, size, v);
    else if (off >= 0xc08 && off < 0xd00) c.writeConfig(pe, ((off - 0xc00) / 4) * 16, v);
  }

  private redistRead(off: number, size: number): number {
    const c = this.core;
    const pe = Math.floor(off / (2 * FRAME));
    if (pe >= c.nPe) return 0;
    const o = off % (2 * FRAME);
    if (o < FRAME) {
      switch (o) {
        case GICR_CTLR:
          return 0;
        case GICR_IIDR:
          return 0x0300043b;
        case GICR_TYPER:
          // Processor number, Last (the final redistributor), no physical LPIs.
          return ((pe << 8) | (pe === c.nPe - 1 ? 1 << 4 : 0)) >>> 0;
        case GICR_TYPER + 4:
          return pe; // Affinity: Aff0 = pe
        case GICR_WAKER:
          return this.waker[pe];
        case PIDR2:
          return 0x3b;
        default:
          return 0;
      }
    }
    const s = o - FRAME;
    if (s === 0x080) return c.readBits(pe, 0, 'group');
    if (s === 0x100 || s === 0x180) return c.readBits(pe, 0, 'enabled');
    if (s === 0x200 || s === 0x280) return c.readBits(pe, 0, 'pending');
    if (s === 0x300 || s === 0x380) return c.readBits(pe, 0, 'active');
    if (s >= 0x400 && s < 0x420) return c.readPriority(pe, s - 0x400, size);
    if (s === 0xc00 || s === 0xc04) return c.readConfig(pe, ((s - 0xc00) / 4) * 16);
    return 0;
  }

  private redistWrite(off: number, size: number, v: number): void {
    const c = this.core;
    const pe = Math.floor(off / (2 * FRAME));
    if (pe >= c.nPe) return;
    const o = off % (2 * FRAME);
    if (o < FRAME) {
      // ProcessorSleep (bit 1); ChildrenAsleep (bit 2) follows it at once.
      if (o === GICR_WAKER) this.waker[pe] = v & 2 ? 0b110 : 0;
      return;
    }
    const s = o - FRAME;
    if (s === 0x080) {
      for (let b = 0; b < 32; b++) c.group[c.idx(pe, b)] = (v >>> b) & 1;
      c.update();
    } else if (s === 0x100) c.writeBits(pe, 0, v, 'enabled', 1);
    else if (s === 0x180) c.writeBits(pe, 0, v, 'enabled', 0);
    else if (s === 0x200) c.writeBits(pe, 0, v, 'pendLatch', 1);
    else if (s === 0x280) c.writeBits(pe, 0, v, 'pendLatch', 0);
    else if (s === 0x300) c.writeBits(pe, 0, v, 'active', 1);
    else if (s === 0x380) c.writeBits(pe, 0, v, 'active', 0);
    else if (s >= 0x400 && s < 0x420) c.writePriority(pe, s - 0x400, size, v);
    else if (s === 0xc04) c.writeConfig(pe, 16, v);
  }

  /** The CPU interface of PE `pe` as system registers. */
  icc(pe: number): IccInterface {
    return { read: (r) => this.iccRead(pe, r), write: (r, v) => this.iccWrite(pe, r, v) };
  }

  private iccRead(pe: number, reg: IccRegister): bigint {
    const c = this.core;
    const s = c.pes[pe];
    switch (reg) {
      case 'PMR':
        return BigInt(s.pmr);
      case 'IAR0':
      case 'IAR1': {
        const id = c.acknowledge(pe, reg === 'IAR0' ? 1 : 2);
        return BigInt(id === 1022 ? SPURIOUS : id);
      }
      case 'HPPIR0':
      case 'HPPIR1': {
        const b = c.highestPending(pe);
        if (b === SPURIOUS) return BigInt(SPURIOUS);
        const g = c.group[c.idx(pe, b)];
        return BigInt(g === (reg === 'HPPIR0' ? 0 : 1) ? b : SPURIOUS);
      }
      case 'BPR0':
        return BigInt(s.bpr0);
      case 'BPR1':
        return BigInt(s.cbpr ? Math.min(s.bpr0 + 1, 7) : s.bpr1);
      case 'RPR': {
        const rp = c.runningPriority(pe);
        return BigInt(rp > 0xff ? 0xff : rp);
      }
      case 'CTLR':
        // CBPR, EOImode, PRIbits = 4 (5 bits), IDbits = 0 (16), A3V.
        return BigInt(s.cbpr | (s.eoiMode << 1) | ((PRI_BITS - 1) << 8) | (1 << 15));
      case 'SRE':
        return 7n;
      case 'IGRPEN0':
        return BigInt(s.grpEnable & 1);
      case 'IGRPEN1':
        return BigInt((s.grpEnable >> 1) & 1);
      case 'AP0R0':
      case 'AP0R1':
      case 'AP0R2':
      case 'AP0R3':
        return BigInt(s.apr[Number(reg[4])]);
      case 'AP1R0':
      case 'AP1R1':
      case 'AP1R2':
      case 'AP1R3':
        return BigInt(s.apr[4 + Number(reg[4])]);
      default:
        return 0n;
    }
  }

  private iccWrite(pe: number, reg: IccRegister, value: bigint): void {
    const c = this.core;
    const s = c.pes[pe];
    const v = Number(value & 0xffffffffn);
    switch (reg) {
      case 'PMR':
        s.pmr = v & c.priorityMask;
        c.update();
        break;
      case 'EOIR0':
      case 'EOIR1':
        c.endOfInterrupt(pe, v & 0xffffff, s.eoiMode === 0);
        break;
      case 'DIR':
        c.deactivate(pe, v & 0xffffff);
        break;
      case 'BPR0':
        s.bpr0 = Math.max(v & 7, c.minBpr);
        c.update();
        break;
      case 'BPR1':
        if (!s.cbpr) s.bpr1 = Math.max(v & 7, c.minBpr + 1);
        c.update();
        break;
      case 'CTLR':
        s.cbpr = v & 1;
        s.eoiMode = (v >>> 1) & 1;
        c.update();
        break;
      case 'IGRPEN0':
        s.grpEnable = (s.grpEnable & 2) | (v & 1);
        c.update();
        break;
      case 'IGRPEN1':
        s.grpEnable = (s.grpEnable & 1) | ((v & 1) << 1);
        c.update();
        break;
      case 'SGI0R':
      case 'SGI1R':
      case 'ASGI1R':
        this.sgi(pe, value);
        break;
      case 'AP0R0':
      case 'AP0R1':
      case 'AP0R2':
      case 'AP0R3':
        s.apr[Number(reg[4])] = v >>> 0;
        break;
      case 'AP1R0':
      case 'AP1R1':
      case 'AP1R2':
      case 'AP1R3':
        s.apr[4 + Number(reg[4])] = v >>> 0;
        break;
      default:
        break;
    }
  }

  /** ICC_SGI1R: INTID [27:24], TargetList [15:0] of Aff1 [23:16] (Aff2/Aff3 zero here), IRM [40]. */
  private sgi(pe: number, value: bigint): void {
    const c = this.core;
    const intid = Number((value >> 24n) & 0xfn);
    const irm = (value >> 40n) & 1n;
    const aff1 = Number((value >> 16n) & 0xffn);
    const aff2 = Number((value >> 32n) & 0xffn);
    const aff3 = Number((value >> 48n) & 0xffn);
    const list = Number(value & 0xffffn);
    for (let t = 0; t < c.nPe; t++) {
      const hit = irm === 1n ? t !== pe : aff1 === 0 && aff2 === 0 && aff3 === 0 && (list & (1 << t)) !== 0;
      if (hit) c.sendSgi(t, intid, pe);
    }
    c.update();
  }
}
