import type { ConsoleMatch } from './api';
import { Waits } from './waits';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|[=>])/g;

/**
 * The guest console of a session across QEMU restarts. The transcript is the output as text with
 * carriage returns dropped (so `^…$` with the `m` flag matches lines); each `expect` searches from the
 * end of the previous match, as pexpect does, so the same line is never matched twice.
 */
export class GuestConsole {
  private text = '';
  private cursor = 0;
  private writer: ((text: string) => void) | null = null;

  constructor(private readonly waits: Waits) {}

  /** Output of the VM (called by the driver). */
  append(chunk: string): void {
    if (!chunk) return;
    this.text += chunk.replace(/\r/g, '');
    this.waits.notify();
  }

  /** Where `send` writes (the driver sets it per QEMU process; null while none runs). */
  attach(writer: ((text: string) => void) | null): void {
    this.writer = writer;
  }

  transcript(): string {
    return this.text;
  }

  /** Where the next `expect` starts searching. */
  position(): number {
    return this.cursor;
  }

  /** Waits for `pattern` (a RegExp, or a string matched literally) in output not matched yet. */
  expect(pattern: RegExp | string, timeoutMs: number): Promise<ConsoleMatch> {
    const re =
      typeof pattern === 'string'
        ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return this.waits.wait(`console ${re}`, timeoutMs, () => {
      const m = re.exec(this.text.slice(this.cursor));
      if (!m) return undefined;
      const index = this.cursor + m.index;
      const end = index + m[0].length;
      this.cursor = end;
      return { text: m[0], groups: m.slice(1), named: { ...m.groups }, index, end };
    });
  }

  send(text: string): void {
    if (!this.writer) throw new Error('the VM is not running: nothing reads the console');
    this.writer(text);
  }

  /** The last non-empty lines of output, escape sequences removed (for error messages). */
  lastLines(n = 5): string[] {
    return this.text
      .slice(-4096)
      .replace(ANSI, '')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.trim())
      .slice(-n)
      .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l));
  }
}
