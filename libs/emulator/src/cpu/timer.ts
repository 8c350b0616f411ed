/**
 * The generic timer of one PE as its system registers see it: the counter (CNTPCT/CNTVCT, 62.5 MHz
 * like QEMU's virt, one tick per 16 ns of guest time; CNTVOFF is 0 without EL2) and the EL1
 * physical and virtual timers (CTL, CVAL, TVAL). A timer's output (ENABLE and ISTATUS and not IMASK)
 * goes to `SystemConfig.timerIrq` on every change; a clock event re-evaluates it at the deadline.
 */
import type { Clock } from '../devices/device';
import type { TimerId } from './platform';

export const CNTFRQ = 62_500_000;
const NS_PER_TICK = 16;
const U64 = (1n << 64n) - 1n;

class Channel {
  ctl = 0;
  cval = 0n;
  level = false;
  private cancel: (() => void) | null = null;

  constructor(
    private readonly timer: GenericTimer,
    readonly id: TimerId,
  ) {}

  /** ISTATUS: the condition, whether or not the output is masked. */
  met(): boolean {
    return (this.ctl & 1) === 1 && this.timer.count() >= this.cval;
  }

  update(): void {
    this.cancel?.();
    this.cancel = null;
    const met = this.met();
    const level = met && (this.ctl & 2) === 0;
    if (level !== this.level) {
      this.level = level;
      this.timer.output(this.id, level);
    }
    if ((this.ctl & 1) === 1 && !met && this.cval < 1n << 60n) {
      // Ticks until the deadline, as guest nanoseconds (exact below 2^53 ns, 104 days).
      const atNs = Number(this.cval) * NS_PER_TICK;
      this.cancel = this.timer.clock.at(atNs, () => {
        this.cancel = null;
        this.update();
      });
    }
  }
}

export class GenericTimer {
  readonly phys: Channel;
  readonly virt: Channel;

  constructor(
    readonly clock: Clock,
    readonly output: (timer: TimerId, level: boolean) => void,
  ) {
    this.phys = new Channel(this, 'phys');
    this.virt = new Channel(this, 'virt');
  }

  count(): bigint {
    return BigInt(this.ticks());
  }

  /** The counter as a number (exact below 2^53 ticks). */
  ticks(): number {
    return Math.floor(this.clock.nowNs() / NS_PER_TICK);
  }

  readCtl(ch: Channel): bigint {
    return BigInt(ch.ctl | (ch.met() ? 4 : 0));
  }

  writeCtl(ch: Channel, v: bigint): void {
    ch.ctl = Number(v & 3n);
    ch.update();
  }

  writeCval(ch: Channel, v: bigint): void {
    ch.cval = v & U64;
    ch.update();
  }

  /** TVAL: CVAL - count as a signed 32-bit value. */
  readTval(ch: Channel): bigint {
    return BigInt.asUintN(32, BigInt.asIntN(32, ch.cval - this.count()));
  }

  writeTval(ch: Channel, v: bigint): void {
    this.writeCval(ch, this.count() + BigInt.asIntN(32, v));
  }
}
