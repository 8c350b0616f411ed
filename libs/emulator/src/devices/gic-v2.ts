/**
 * GICv2 (IHI 0048B) without the security extensions, as QEMU's `virt` has it with
 * `gic-version=2`: the distributor at 0x0800_0000 and the memory-mapped CPU interface at
 * 0x0801_0000. Every interrupt is group 0 and signalled as IRQ; GICD_IGROUPR is RAZ/WI.
 */
import type { IrqLine, MmioDevice } from './device';
import { GicCore, SPURIOUS } from './gic-core';

const GICD_CTLR = 0x000;
const GICD_TYPER = 0x004;
const GICD_IIDR = 0x008;
const GICD_SGIR = 0xf00;

const GICC_CTLR = 0x00;
const GICC_PMR = 0x04;
const GICC_BPR = 0x08;
const GICC_IAR = 0x0c;
const GICC_EOIR = 0x10;
const GICC_RPR = 0x14;
const GICC_HPPIR = 0x18;
const GICC_ABPR = 0x1c;
const GICC_APR0 = 0xd0;
const GICC_IIDR = 0xfc;
const GICC_DIR = 0x1000;

export interface GicV2Options {
  irqs: number;
  outputs: { irq: IrqLine; fiq: IrqLine }[];
}

export class GicV2 {
  readonly core: GicCore;
  readonly distributor: MmioDevice;
  /** The CPU interface window; each PE sees its own (one PE: PE 0). */
  readonly cpuInterface: MmioDevice;
  private abpr = 0;

  constructor(o: GicV2Options) {
    this.core = new GicCore({ irqs: o.irqs, outputs: o.outputs, group0IsFiq: false, priorityBits: 8 });
    this.core.reset();
    this.initTargets();
    this.distributor = {
      read: (off, size) => this.distRead(off, size),
      write: (off, size, v) => this.distWrite(off, size, v),
    };
    this.cpuInterface = {
      read: (off) => this.cpuRead(0, off),
      write: (off, _size, v) => this.cpuWrite(0, off, v),
    };
  }

  reset(): void {
    this.core.reset();
    this.initTargets();
    this.abpr = 0;
  }

  private initTargets(): void {
    // SGIs are always enabled in a GICv2 (ISENABLER0[15:0] RAO/WI); SPIs start targeting nothing.
    for (let pe = 0; pe < this.core.nPe; pe++)
      for (let i = 0; i < 16; i++) this.core.enabled[this.core.idx(pe, i)] = 1;
  }

  /** An SPI's or PPI's input wire. */
  line(intid: number, pe = 0): IrqLine {
    return this.core.line(intid, pe);
  }

  private distRead(off: number, size: number): number {
    const c = this.core;
    const pe = 0;
    if (off === GICD_CTLR) return c.distEnable & 1;
    if (off === GICD_TYPER) return ((c.irqs / 32 - 1) & 0x1f) | ((c.nPe - 1) << 5);
    if (off === GICD_IIDR) return 0x0100143b;
    if (off >= 0x080 && off < 0x100) return 0; // IGROUPR: RAZ without security extensions
    if (off >= 0x100 && off < 0x180) return c.readBits(pe, (off - 0x100) * 8, 'enabled');
    if (off >= 0x180 && off < 0x200) return c.readBits(pe, (off - 0x180) * 8, 'enabled');
    if (off >= 0x200 && off < 0x280) return c.readBits(pe, (off - 0x200) * 8, 'pending');
    if (off >= 0x280 && off < 0x300) return c.readBits(pe, (off - 0x280) * 8, 'pending');
    if (off >= 0x300 && off < 0x380) return c.readBits(pe, (off - 0x300) * 8, 'active');
    if (off >= 0x380 && off < 0x400) return c.readBits(pe, (off - 0x380) * 8, 'active');
    if (off >= 0x400 && off < 0x800) return c.readPriority(pe, off - 0x400, size);
    if (off >= 0x800 && off < 0xc00) {
      let v = 0;
      for (let b = 0; b < size; b++) {
        const intid = off - 0x800 + b;
        // Reads of the SGI/PPI targets give the reading PE's own bit.
        const t = intid < 32 ? 1 << pe : intid < c.irqs ? c.target[intid] : 0;
        v |= (t & 0xff) << (8 * b);
      }
      return v >>> 0;
    }
    if (off >= 0xc00 && off < 0xd00) return c.readConfig(pe, ((off - 0xc00) / 4) * 16);
    if (off >= 0xf10 && off < 0xf30) {
      // CPENDSGIR/SPENDSGIR: one byte per SGI, a bit per source PE.
      let v = 0;
      const first = (off & 0xf) + 0;
      for (let b = 0; b < size; b++) {
        const sgi = first + b;
        if (sgi < 16 && c.pendLatch[c.idx(pe, sgi)]) v |= (1 << c.pes[pe].sgiSource[sgi]) << (8 * b);
      }
      return v >>> 0;
    }
    if (off === 0xfe8) return 0x2b; // ICPIDR2: ArchRev 2
    return 0;
  }

  private distWrite(off: number, size: number, v: number): void {
    const c = this.core;
    const pe = 0;
    if (off === GICD_CTLR) {
      c.distEnable = v & 1;
      c.update();
    } else if (off >= 0x100 && off < 0x180) {
      const base = (off - 0x100) * 8;
      c.writeBits(pe, base, base === 0 ? v & 0xffff0000 : v, 'enabled', 1);
    } else if (off >= 0x180 && off < 0x200) {
      const base = (off - 0x180) * 8;
      c.writeBits(pe, base, base === 0 ? v & 0xffff0000 : v, 'enabled', 0);
    } else if (off >= 0x200 && off < 0x280)
      c.writeBits(pe, (off - 0x200) * 8, off === 0x200 ? v & 0xffff0000 : v, 'pendLatch', 1);
    else if (off >= 0x280 && off < 0x300)
      c.writeBits(pe, (off - 0x280) * 8, off === 0x280 ? v & 0xffff0000 : v, 'pendLatch', 0);
    else if (off >= 0x300 && off < 0x380) c.writeBits(pe, (off - 0x300) * 8, v, 'active', 1);
    else if (off >= 0x380 && off < 0x400) c.writeBits(pe, (off - 0x380) * 8, v, 'active', 0);
    else if (off >= 0x400 && off < 0x800) c.writePriority(pe, off - 0x400, size, v);
    else if (off >= 0x800 && off < 0xc00) {
      for (let b = 0; b < size; b++) {
        const intid = off - 0x800 + b;
        if (intid >= 32 && intid < c.irqs) c.target[intid] = (v >>> (8 * b)) & ((1 << c.nPe) - 1);
      }
      c.update();
    } else if (off >= 0xc00 && off < 0xd00) c.writeConfig(pe, ((off - 0xc00) / 4) * 16, v);
    else if (off === GICD_SGIR) {
      const sgi = v & 0xf;
      const filter = (v >>> 24) & 3;
      const list = (v >>> 16) & 0xff;
      for (let t = 0; t < c.nPe; t++) {
        const hit = filter === 0 ? (list & (1 << t)) !== 0 : filter === 1 ? t !== pe : t === pe;
        if (hit) c.sendSgi(t, sgi, pe);
      }
      c.update();
    }
  }

  private cpuRead(pe: number, off: number): number {
    const c = this.core;
    const s = c.pes[pe];
    switch (off) {
      case GICC_CTLR:
        return (s.grpEnable & 1) | (s.eoiMode << 9);
      case GICC_PMR:
        return s.pmr;
      case GICC_BPR:
        return s.bpr0;
      case GICC_IAR: {
        const intid = c.acknowledge(pe, 1);
        if (intid === 1022) return SPURIOUS;
        return intid < 16 ? intid | (s.sgiSource[intid] << 10) : intid;
      }
      case GICC_RPR: {
        const rp = c.runningPriority(pe);
        return rp > 0xff ? 0xff : rp;
      }
      case GICC_HPPIR: {
        const b = c.highestPending(pe);
        return b < 16 ? b | (s.sgiSource[b] << 10) : b;
      }
      case GICC_ABPR:
        return this.abpr;
      case GICC_APR0:
        return s.apr[0];
      case GICC_IIDR:
        return 0x0202143b;
      default:
        return 0;
    }
  }

  private cpuWrite(pe: number, off: number, v: number): void {
    const c = this.core;
    const s = c.pes[pe];
    switch (off) {
      case GICC_CTLR:
        s.grpEnable = v & 1;
        s.eoiMode = (v >>> 9) & 1;
        c.update();
        break;
      case GICC_PMR:
        s.pmr = v & 0xff;
        c.update();
        break;
      case GICC_BPR:
        s.bpr0 = Math.max(v & 7, c.minBpr);
        c.update();
        break;
      case GICC_EOIR:
        c.endOfInterrupt(pe, v & 0x3ff, s.eoiMode === 0);
        break;
      case GICC_ABPR:
        this.abpr = v & 7;
        break;
      case GICC_APR0:
        s.apr[0] = v >>> 0;
        break;
      case GICC_DIR:
        c.deactivate(pe, v & 0x3ff);
        break;
      default:
        break;
    }
  }
}
