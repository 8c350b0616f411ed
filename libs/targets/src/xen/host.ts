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
    // A failure keeps everything it said (up to 4 KiB); a success its last lines.
    const text = r.stderr.trim() || r.stdout.trim();
    const said = (r.code === 0 ? text.split('\n').slice(-3) : text.slice(-4096).split('\n')).join(' / ');
    this.log.push(
      `+${Date.now() - this.started}ms ${line} -> ${r.code ?? r.signal}${said ? `: ${said}` : ''}`,
    );
    return r;
  }

  /**
   * Runs a command that must succeed: HostCommandError otherwise, with its first error lines (libxl
   * reports the cause first and the clean-up after it) or, without any, its last lines.
   */
  async must(
    command: string,
    args: readonly string[],
    timeoutMs = XL_TIMEOUT_MS,
    input?: string,
  ): Promise<string> {
    const r = await this.run(command, args, timeoutMs, input);
    if (r.code !== 0) {
      const lines = `${r.stderr}\n${r.stdout}`
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const errors = lines.filter((l) => /error|fail/i.test(l));
      throw new HostCommandError(
        [command, ...args].join(' '),
        (errors.length ? errors.slice(0, 4) : lines.slice(-3)).join(' / ') ||
          `exit status ${r.code ?? r.signal}`,
      );
    }
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
