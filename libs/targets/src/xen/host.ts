import type { ExecResult, HostTransport } from '@vmfarm/host';
import { HostCommandError } from '@vmfarm/session';

/** How long one xl or xenstore command may take (hotplug scripts run in bash under TCG: seconds). */
export const XL_TIMEOUT_MS = 120_000;

/** The xl and xenstore commands a session runs on its dom0, all through the host transport. */
export class XenHostCommands {
  /** Every command run and how it ended, for the session's xl.log. */
  readonly log: string[] = [];

  constructor(
    readonly transport: HostTransport,
    private readonly started: number,
  ) {}

  /** Runs a command; its result whatever the exit status. */
  async run(
    command: string,
    args: readonly string[],
    timeoutMs = XL_TIMEOUT_MS,
    input?: string,
  ): Promise<ExecResult> {
    const line = [command, ...args].join(' ');
    const r = await this.transport.exec(command, args, { timeoutMs, input });
    const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' / ');
    this.log.push(
      `+${Date.now() - this.started}ms ${line} -> ${r.code ?? r.signal}${said ? `: ${said}` : ''}`,
    );
    return r;
  }

  /** Runs a command that must succeed: HostCommandError with what it said otherwise. */
  async must(
    command: string,
    args: readonly string[],
    timeoutMs = XL_TIMEOUT_MS,
    input?: string,
  ): Promise<string> {
    const r = await this.run(command, args, timeoutMs, input);
    if (r.code !== 0)
      throw new HostCommandError(
        [command, ...args].join(' '),
        (r.stderr.trim() || r.stdout.trim() || `exit status ${r.code ?? r.signal}`)
          .split('\n')
          .slice(-3)
          .join(' / '),
      );
    return r.stdout;
  }

  /** A xenstore value, or null when the path does not exist. */
  async xenstoreRead(path: string): Promise<string | null> {
    const r = await this.run('xenstore-read', [path], 30_000);
    return r.code === 0 ? r.stdout.trim() : null;
  }

  /** Writes `content` to a file on the host. */
  async writeFile(path: string, content: string): Promise<void> {
    await this.must('sh', ['-c', 'cat > "$1"', 'sh', path], 30_000, content);
  }
}
