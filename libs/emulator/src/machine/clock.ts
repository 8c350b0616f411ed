/**
 * Guest time for the machine's devices and the generic timer. Time comes from a source (the host's
 * monotonic clock in real mode, the instruction count in deterministic mode) plus the time skipped
 * while the PE idled in WFI with nothing to run (deterministic mode jumps to the next deadline).
 * Timers fire in deadline order when the run loop calls `runDue`.
 */
import type { Clock } from '../devices/device';

interface Timer {
  atNs: number;
  seq: number;
  fn: () => void;
}

export class MachineClock implements Clock {
  private skipped = 0;
  private last = 0;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(private readonly source: () => number) {}

  nowNs(): number {
    const t = this.source() + this.skipped;
    if (t > this.last) this.last = t;
    return this.last;
  }

  at(atNs: number, fn: () => void): () => void {
    const t: Timer = { atNs, seq: this.seq++, fn };
    // Insert in order: timers are few (two per timer channel, RTC, devices).
    let i = this.timers.length;
    while (
      i > 0 &&
      (this.timers[i - 1].atNs > atNs || (this.timers[i - 1].atNs === atNs && this.timers[i - 1].seq > t.seq))
    )
      i--;
    this.timers.splice(i, 0, t);
    return () => {
      const k = this.timers.indexOf(t);
      if (k >= 0) this.timers.splice(k, 1);
    };
  }

  /** The earliest pending deadline, or Infinity. */
  nextDeadline(): number {
    return this.timers.length > 0 ? this.timers[0].atNs : Infinity;
  }

  /** Runs every timer now due, in deadline order. */
  runDue(): void {
    const now = this.nowNs();
    while (this.timers.length > 0 && this.timers[0].atNs <= now) this.timers.shift()!.fn();
  }

  /** Moves guest time forward to `ns` (never back) without the source advancing, then runs what is due. */
  skipTo(ns: number): void {
    const now = this.nowNs();
    if (ns > now) this.skipped += ns - now;
    this.runDue();
  }

  /** Forgets every timer (machine reset); time keeps running. */
  clear(): void {
    this.timers = [];
  }
}
