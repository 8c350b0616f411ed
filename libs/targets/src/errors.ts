/** Errors of a VM session. Each message is one line naming what was awaited and what the guest said last. */

const describeLines = (lines: readonly string[]) =>
  lines.length ? lines.map((l) => JSON.stringify(l)).join(' | ') : '(none)';

/** A wait ran out: `awaited` says for what, `lastLines` what the console showed last. */
export class SessionTimeoutError extends Error {
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

/** The VM process went away while something was awaited. */
export class VmExitedError extends Error {
  override name = 'VmExitedError';
  constructor(
    readonly awaited: string,
    readonly exit: string,
    readonly lastLines: string[],
    readonly stderr: string,
  ) {
    super(
      `QEMU ${exit} while awaiting ${awaited}` +
        (stderr ? `; QEMU said: ${JSON.stringify(stderr.trim().split('\n').slice(-3).join(' / '))}` : '') +
        `; last console lines: ${describeLines(lastLines)}`,
    );
  }
}

export class SessionClosedError extends Error {
  override name = 'SessionClosedError';
  constructor(awaited: string) {
    super(`the session was closed while awaiting ${awaited}`);
  }
}

/** QMP answered a command with an error. */
export class QmpCommandError extends Error {
  override name = 'QmpCommandError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}

/** The profile cannot run on this host (what `accepts` said), or QEMU could not start. */
export class BootError extends Error {
  override name = 'BootError';
}
