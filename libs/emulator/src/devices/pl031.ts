/**
 * ARM PrimeCell real-time clock PL031 (DDI 0224): a seconds counter that runs from the guest
 * clock, loadable, with a match register whose interrupt fires when the counter reaches it.
 */
import type { Clock, IrqLine, MmioDevice } from './device';
import { primecellId } from './primecell';

const DR = 0x00;
const MR = 0x04;
const LR = 0x08;
const CR = 0x0c;
const IMSC = 0x10;
const RIS = 0x14;
const MIS = 0x18;
const ICR = 0x1c;

const NS = 1_000_000_000;

export interface Pl031Options {
  irq: IrqLine;
  clock: Clock;
  /** Seconds since the epoch the counter shows at guest time 0 (the host's time, or fixed). */
  startSeconds: number;
}

export class Pl031 implements MmioDevice {
  /** Counter value minus elapsed guest seconds. */
  private offset: number;
  private mr = 0;
  private imsc = 0;
  private ris = 0;
  private cancel: (() => void) | null = null;

  constructor(private readonly o: Pl031Options) {
    this.offset = o.startSeconds;
  }

  private elapsed(): number {
    return Math.floor(this.o.clock.nowNs() / NS);
  }

  private counter(): number {
    return (this.offset + this.elapsed()) >>> 0;
  }

  private update(): void {
    this.o.irq.set((this.ris & this.imsc) !== 0);
  }

  /** Arms the match: the counter reaches MR after (MR - counter) mod 2^32 seconds. */
  private arm(): void {
    this.cancel?.();
    const now = this.o.clock.nowNs();
    const wait = (this.mr - this.counter()) >>> 0;
    const at = (Math.floor(now / NS) + (wait === 0 ? 2 ** 32 : wait)) * NS;
    this.cancel = this.o.clock.at(at, () => {
      this.ris = 1;
      this.update();
      this.arm();
    });
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    switch (offset) {
      case DR:
        return this.counter();
      case MR:
        return this.mr;
      case LR:
        return this.counter();
      case CR:
        return 1;
      case IMSC:
        return this.imsc;
      case RIS:
        return this.ris;
      case MIS:
        return this.ris & this.imsc;
      default:
        return primecellId(offset, [0x31, 0x10, 0x14, 0x00]) ?? 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    switch (offset) {
      case MR:
        this.mr = value >>> 0;
        this.arm();
        break;
      case LR:
        this.offset = (value >>> 0) - this.elapsed();
        this.arm();
        break;
      case IMSC:
        this.imsc = value & 1;
        this.update();
        break;
      case ICR:
        this.ris &= ~value & 1;
        this.update();
        break;
      default:
        // CR: the counter always runs (writing 0 has no effect on a PL031).
        break;
    }
  }
}
