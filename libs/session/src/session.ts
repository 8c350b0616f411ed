import type { SessionHotplug } from './hotplug';
import type { PlatformFacts } from './platform';

/**
 * The VM-session API (DESIGN.md): what suites are written against, whatever the driver (QEMU, the
 * bundled emulator, Xen, KVM on a remote host). Every wait takes a timeout; every failure is one of
 * the classes of ./errors, told apart with `instanceof`.
 */
export interface VmSession {
  readonly console: SessionConsole;
  readonly hotplug: SessionHotplug;
  /** Guest-visible warm reset (QEMU: `system_reset`). */
  reset(): Promise<void>;
  /**
   * Stops and starts the same instance: same variable store, same disk overlay; hot-added devices
   * are gone (a new VM process).
   */
  powerCycle(timeoutMs?: number): Promise<void>;
  /** The instance's UEFI variable store (suites parse it with @vmfarm/image). */
  variables(): Promise<InstanceVariables>;
  /** What the VM implementation offers, as its host side sees it (not what the guest reports). */
  platform(): Promise<PlatformFacts>;
  /**
   * Whether the VM runs, as its host side says within `timeoutMs` (default 5 s): asked when a guest
   * goes quiet, to tell a hung or stopped VM (the farm's problem) from a guest that is stuck (the
   * image's). Never rejects: a host side that does not answer is `{ running: false }` with why.
   */
  state(timeoutMs?: number): Promise<VmState>;
  /**
   * Leaves no process, socket or temporary file behind; idempotent; safe after any failure and while
   * other calls are pending (they fail with SessionClosedError).
   */
  close(): Promise<void>;
}

export type VmState = { running: true } | { running: false; why: string };

/** The instance's variable store: a file in the firmware's own format (edk2: a firmware volume). */
export interface InstanceVariables {
  file: string;
}

/**
 * Something that finds a match in text, as `RegExp.prototype.exec` does (without the `g`/`y`
 * flags): a RegExp, or an object of a linear-time engine (RE2) for patterns a user wrote.
 */
export interface ConsoleMatcher {
  exec(text: string): { index: number; 0: string; length: number; groups?: Record<string, string> } | null;
  /** How the pattern reads, for messages (`/VMFARM-READY/m`). */
  toString(): string;
}

/** A string is matched literally; a RegExp or a matcher as a pattern. */
export type ConsolePattern = string | RegExp | ConsoleMatcher;

/** The longest text a match may span: each search looks at new output plus this much before it. */
export const MATCH_WINDOW = 64 * 1024;

export interface SessionConsole {
  /**
   * Waits for `pattern` in output not matched by an earlier expect (each search starts at the end of
   * the previous match, as pexpect does). `^` and `$` with the `m` flag match at line ends; `$` also
   * matches the end of the output so far, in the middle of a line still arriving: end a line pattern
   * with `\n` to wait for the whole line. A match is at most MATCH_WINDOW characters long.
   * Rejects with SessionTimeoutError, VmExitedError or SessionClosedError.
   */
  expect(pattern: ConsolePattern, timeoutMs: number): Promise<ConsoleMatch>;
  /** Types `text` as is (add the newline yourself). Throws when no VM runs. */
  send(text: string): void;
  /** Everything the guest printed so far, carriage returns dropped. */
  transcript(): string;
}

export interface ConsoleMatch {
  /** The matched text. */
  text: string;
  /** Capture groups, in order (undefined for a group that did not take part). */
  groups: (string | undefined)[];
  named: Record<string, string | undefined>;
  /** Where the match starts and ends in `transcript()`. */
  index: number;
  end: number;
}
