/**
 * ARM PrimeCell GPIO PL061 (DDI 0190): eight lines, direction, edge or level interrupt detection
 * per line. The machine drives input line 3 as the power button (the FDT's gpio-keys node).
 */
import type { IrqLine, MmioDevice } from './device';
import { primecellId } from './primecell';

const DIR = 0x400;
const IS = 0x404;
const IBE = 0x408;
const IEV = 0x40c;
const IE = 0x410;
const RIS = 0x414;
const MIS = 0x418;
const IC = 0x41c;
const AFSEL = 0x420;

export class Pl061 implements MmioDevice {
  /** Levels driven by the outside on input lines. */
  private inputs = 0;
  /** Levels the guest drives on output lines. */
  private outputs = 0;
  private dir = 0;
  private is = 0;
  private ibe = 0;
  private iev = 0;
  private ie = 0;
  private ris = 0;
  private afsel = 0;

  constructor(private readonly irq: IrqLine) {}

  /** The pin levels: outputs where DIR says output, external levels elsewhere. */
  private data(): number {
    return ((this.outputs & this.dir) | (this.inputs & ~this.dir)) & 0xff;
  }

  /** An external level change on line `line`. */
  setInput(line: number, level: boolean): void {
    const before = this.data();
    this.inputs = level ? this.inputs | (1 << line) : this.inputs & ~(1 << line);
    this.detect(before);
  }

  /** Latches edges, re-evaluates level interrupts, drives the interrupt output. */
  private detect(before: number): void {
    const now = this.data();
    const changed = before ^ now;
    const edge = ~this.is & 0xff;
    const rising = changed & now & (this.iev | this.ibe);
    const falling = changed & ~now & (~this.iev | this.ibe);
    this.ris |= (rising | falling) & edge;
    // Level-sensitive lines follow the pin: high-level (IEV set) or low-level.
    const levelHigh = this.is & this.iev & now;
    const levelLow = this.is & ~this.iev & ~now & 0xff;
    this.ris = (this.ris & edge) | levelHigh | levelLow;
    this.irq.set((this.ris & this.ie) !== 0);
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    if (offset < 0x400) return this.data() & ((offset >> 2) & 0xff);
    switch (offset) {
      case DIR:
        return this.dir;
      case IS:
        return this.is;
      case IBE:
        return this.ibe;
      case IEV:
        return this.iev;
      case IE:
        return this.ie;
      case RIS:
        return this.ris;
      case MIS:
        return this.ris & this.ie;
      case AFSEL:
        return this.afsel;
      default:
        return primecellId(offset, [0x61, 0x10, 0x04, 0x00]) ?? 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const before = this.data();
    const v = value & 0xff;
    if (offset < 0x400) {
      // Address bits [9:2] mask which data bits the write changes.
      const mask = (offset >> 2) & 0xff;
      this.outputs = (this.outputs & ~mask) | (v & mask);
    } else if (offset === DIR) this.dir = v;
    else if (offset === IS) this.is = v;
    else if (offset === IBE) this.ibe = v;
    else if (offset === IEV) this.iev = v;
    else if (offset === IE) this.ie = v;
    else if (offset === IC) this.ris &= ~v;
    else if (offset === AFSEL) this.afsel = v;
    this.detect(before);
  }
}
