/**
 * ARM PrimeCell UART PL011 (DDI 0183), as QEMU models it: transmission completes at once (TX
 * interrupt raised on each write), a 16-entry receive FIFO (1 entry with LCR_H.FEN clear), the
 * receive interrupt raised while the FIFO holds data. Host input beyond the FIFO waits host-side,
 * as a chardev backend waits for can_receive.
 */
import type { IrqLine, MmioDevice } from './device';
import { primecellId } from './primecell';

const DR = 0x000;
const RSR = 0x004;
const FR = 0x018;
const ILPR = 0x020;
const IBRD = 0x024;
const FBRD = 0x028;
const LCR_H = 0x02c;
const CR = 0x030;
const IFLS = 0x034;
const IMSC = 0x038;
const RIS = 0x03c;
const MIS = 0x040;
const ICR = 0x044;
const DMACR = 0x048;

const FR_RXFE = 1 << 4;
const FR_RXFF = 1 << 6;
const FR_TXFE = 1 << 7;
const LCR_FEN = 1 << 4;
const INT_RX = 1 << 4;
const INT_TX = 1 << 5;
const FIFO_DEPTH = 16;

export interface Pl011Options {
  irq: IrqLine;
  /** Each byte the guest transmits. */
  onTx: (byte: number) => void;
}

export class Pl011 implements MmioDevice {
  private readonly fifo: number[] = [];
  /** Host input not yet taken into the FIFO. */
  private backlog: number[] = [];
  private lcr = 0;
  private cr = 0x300;
  private ifls = 0x12;
  private imsc = 0;
  private intLevel = 0;
  private ibrd = 0;
  private fbrd = 0;
  private ilpr = 0;
  private dmacr = 0;
  private rsr = 0;

  constructor(private readonly o: Pl011Options) {}

  reset(): void {
    this.fifo.length = 0;
    this.backlog = [];
    this.lcr = 0;
    this.cr = 0x300;
    this.ifls = 0x12;
    this.imsc = 0;
    this.intLevel = 0;
    this.ibrd = this.fbrd = this.ilpr = this.dmacr = this.rsr = 0;
    this.update();
  }

  /** Bytes typed on the console. */
  input(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (const b of bytes) this.backlog.push(b);
    this.fill();
  }

  private depth(): number {
    return this.lcr & LCR_FEN ? FIFO_DEPTH : 1;
  }

  private fill(): void {
    let n = 0;
    while (n < this.backlog.length && this.fifo.length < this.depth()) this.fifo.push(this.backlog[n++]);
    if (n > 0) {
      this.backlog = this.backlog.slice(n);
      this.intLevel |= INT_RX;
      this.update();
    }
  }

  private update(): void {
    this.o.irq.set((this.intLevel & this.imsc) !== 0);
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    switch (offset) {
      case DR: {
        const c = this.fifo.shift() ?? 0;
        if (this.fifo.length === 0) {
          this.intLevel &= ~INT_RX;
          this.update();
        }
        this.fill();
        return c;
      }
      case RSR:
        return this.rsr;
      case FR: {
        let fr = FR_TXFE;
        if (this.fifo.length === 0) fr |= FR_RXFE;
        if (this.fifo.length >= this.depth()) fr |= FR_RXFF;
        return fr;
      }
      case ILPR:
        return this.ilpr;
      case IBRD:
        return this.ibrd;
      case FBRD:
        return this.fbrd;
      case LCR_H:
        return this.lcr;
      case CR:
        return this.cr;
      case IFLS:
        return this.ifls;
      case IMSC:
        return this.imsc;
      case RIS:
        return this.intLevel;
      case MIS:
        return this.intLevel & this.imsc;
      case DMACR:
        return this.dmacr;
      default:
        return primecellId(offset, [0x11, 0x10, 0x14, 0x00]) ?? 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    switch (offset) {
      case DR:
        this.o.onTx(value & 0xff);
        this.intLevel |= INT_TX;
        this.update();
        break;
      case RSR:
        this.rsr = 0;
        break;
      case ILPR:
        this.ilpr = value & 0xff;
        break;
      case IBRD:
        this.ibrd = value & 0xffff;
        break;
      case FBRD:
        this.fbrd = value & 0x3f;
        break;
      case LCR_H:
        // Switching the FIFO on or off empties it (QEMU resets its read position the same way).
        if ((value ^ this.lcr) & LCR_FEN) this.fifo.length = 0;
        this.lcr = value & 0xff;
        this.fill();
        break;
      case CR:
        this.cr = value & 0xffff;
        break;
      case IFLS:
        this.ifls = value & 0x3f;
        break;
      case IMSC:
        this.imsc = value & 0x7ff;
        this.update();
        break;
      case ICR:
        this.intLevel &= ~value;
        this.update();
        break;
      case DMACR:
        this.dmacr = value & 7;
        break;
      default:
        break;
    }
  }
}
