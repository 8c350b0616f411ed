/**
 * The errors of a VM session, one class per way a wait or a boot can end badly. Suites and the agent
 * tell them apart with `instanceof`, never by name or message; each message is one line naming what
 * was awaited and what the guest said last.
 */

const describeLines = (lines: readonly string[]) =>
  lines.length ? lines.map((l) => JSON.stringify(l)).join(' | ') : '(none)';

/** Every error a session or a driver throws on purpose. */
export class SessionError extends Error {
  override name = 'SessionError';
}

/** A wait ran out: `awaited` says for what, `lastLines` what the console showed last. */
export class SessionTimeoutError extends SessionError {
  override name = 'SessionTimeoutError';
  constructor(
    readonly awaited: string,
    readonly timeoutMs: number,
    readonly lastLines: string[],
  ) {
    super(
      `timed out after ${timeoutMs} ms awaiting ${awaited}; last console lines: ${describeLines(lastLines)}`,
    );
  }
}

/** The VM's process (QEMU, the emulator, the domain) went away while something was awaited. */
export class VmExitedError extends SessionError {
  override name = 'VmExitedError';
  constructor(
    readonly awaited: string,
    /** How it went, e.g. `exited with status 1`, `was killed by SIGKILL`. */
    readonly exit: string,
    readonly lastLines: string[],
    /** What the process said on stderr (its last lines), when it has one. */
    readonly stderr = '',
    /** What ran the VM, as a person names it: `QEMU`, `the emulator`, `xl`. */
    readonly process = 'the VM',
  ) {
    super(
      `${process} ${exit} while awaiting ${awaited}` +
        (stderr
          ? `; ${process} said: ${JSON.stringify(stderr.trim().split('\n').slice(-3).join(' / '))}`
          : '') +
        `; last console lines: ${describeLines(lastLines)}`,
    );
  }
}

/** The session was closed (by its owner, or by a time limit) while something was awaited. */
export class SessionClosedError extends SessionError {
  override name = 'SessionClosedError';
  constructor(readonly awaited: string) {
    super(`the session was closed while awaiting ${awaited}`);
  }
}

/** The VM's host side refused a command (QEMU: a QMP error reply; Xen: an `xl` failure). */
export class HostCommandError extends SessionError {
  override name = 'HostCommandError';
  constructor(
    readonly command: string,
    readonly reason: string,
    message = `${command} failed: ${reason}`,
  ) {
    super(message);
  }
}

/** The VM could not be started (the driver's programs failed before the VM ran). The farm's fault. */
export class BootError extends SessionError {
  override name = 'BootError';
}

/**
 * The target refuses this boot before starting anything: the host cannot give what the profile (with
 * the boot's overrides) asks for. `reasons` is what `accepts` said; a suite may record it as SKIP.
 */
export class TargetRefusedError extends BootError {
  override name = 'TargetRefusedError';
  constructor(
    readonly target: string,
    readonly reasons: readonly string[],
  ) {
    super(`target ${target} cannot run here: ${reasons.join('; ')}`);
  }
}
