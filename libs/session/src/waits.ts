import { SessionTimeoutError } from './errors';

/** What the waits of a session need to know of it. */
export interface WaitContext {
  lastLines(): string[];
  /** Why nothing more can arrive (the VM exited, the session closed), or null while it can. */
  gone(awaited: string): Error | null;
}

interface Pending {
  awaited: string;
  check(): void;
  fail(err: Error): void;
}

/**
 * Every wait of a session, for drivers to build on: each has a timeout, is re-checked on new input
 * (`notify`) and fails at once when the VM goes (`failGone`).
 */
export class Waits {
  private readonly pending = new Set<Pending>();

  constructor(private readonly ctx: WaitContext) {}

  /** Resolves with the first defined value of `probe`, checked now and after every `notify()`. */
  wait<T>(awaited: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    const gone = this.ctx.gone(awaited);
    if (gone) return Promise.reject(gone);
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(entry);
      };
      const entry: Pending = {
        awaited,
        check: () => {
          const value = probe();
          if (value === undefined) return;
          finish();
          resolve(value);
        },
        fail: (err) => {
          finish();
          reject(err);
        },
      };
      const timer = setTimeout(
        () => entry.fail(new SessionTimeoutError(awaited, timeoutMs, this.ctx.lastLines())),
        timeoutMs,
      );
      this.pending.add(entry);
    });
  }

  notify(): void {
    for (const p of [...this.pending]) p.check();
  }

  /** Fails the waits that can no longer succeed (all of them when `ctx.gone` says so). */
  failGone(): void {
    for (const p of [...this.pending]) {
      const err = this.ctx.gone(p.awaited);
      if (err) p.fail(err);
    }
  }
}
