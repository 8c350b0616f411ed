import { HostCommandError } from '@vmfarm/session';

/** QMP answered a command with an error: the host side refused it. */
export class QmpCommandError extends HostCommandError {
  override name = 'QmpCommandError';
  constructor(
    command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(command, `${errorClass}: ${desc}`, `QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}
