/**
 * Guest time for the machine's devices and timers. `VirtualClock` advances only when the run loop
 * says so: in deterministic mode from the instruction count, in real mode from the host clock
 * (the loop calls `advanceTo` with the host's elapsed time). Timers fire in deadline order.
 */
import type { Clock } from '../devices/device';

interface Timer {
  atNs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Clock {
  private now = 0;
  private seq = 0;
  private timers: Timer[] = [];

  nowNs(): number {
    return this.now;
  }

  at(atNs: number, fn: () => void): () => void {
    const t: Timer = { atNs, seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    this.timers.sort((a, b) => a.atNs - b.atNs || a.seq - b.seq);
    return () => {
      t.cancelled = true;
      this.timers = this.timers.filter((x) => x !== t);
    };
  }

  /** The earliest pending deadline, or Infinity. */
  nextDeadline(): number {
    return this.timers.length > 0 ? this.timers[0].atNs : Infinity;
  }

  /** Moves time forward (never back) and runs every timer now due, in order. */
  advanceTo(ns: number): void {
    if (ns > this.now) this.now = ns;
    while (this.timers.length > 0 && this.timers[0].atNs <= this.now) {
      const t = this.timers.shift()!;
      if (!t.cancelled) t.fn();
    }
  }

  /** Forgets every timer (machine reset); time keeps running. */
  clear(): void {
    this.timers = [];
  }
}
