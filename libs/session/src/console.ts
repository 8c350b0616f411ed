import { MATCH_WINDOW, type ConsoleMatch, type ConsoleMatcher, type ConsolePattern } from './session';
import { Waits } from './waits';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|[=>])/g;

/** A pattern as something with `exec`: strings literally, RegExps without `g`/`y` (they carry state). */
export function toMatcher(pattern: ConsolePattern): ConsoleMatcher {
  if (typeof pattern === 'string') return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (pattern instanceof RegExp) return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  return pattern;
}

/**
 * The guest console of a session, for drivers to build on (it implements SessionConsole's
 * semantics once for every driver). The transcript is the output as text with carriage returns
 * dropped (so `^…$` with the `m` flag matches lines); each `expect` searches from the end of the
 * previous match, as pexpect does, so the same line is never matched twice. A search on new output
 * covers it plus MATCH_WINDOW before it, from a line start: the cost of a wait is bounded by the
 * output, not by how often it arrives.
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

  /** Where `send` writes (the driver sets it per VM process; null while none runs). */
  attach(writer: ((text: string) => void) | null): void {
    this.writer = writer;
  }

  transcript(): string {
    return this.text;
  }

  expect(pattern: ConsolePattern, timeoutMs: number): Promise<ConsoleMatch> {
    const matcher = toMatcher(pattern);
    let searched = this.cursor;
    return this.waits.wait(`console ${String(matcher)}`, timeoutMs, () => {
      const from = searchStart(this.text, this.cursor, searched);
      searched = this.text.length;
      const m = matcher.exec(this.text.slice(from));
      if (!m) return undefined;
      const index = from + m.index;
      const end = index + m[0].length;
      this.cursor = end;
      const groups = Array.from(
        { length: m.length - 1 },
        (_, i) => (m as ArrayLike<string | undefined>)[i + 1],
      );
      return { text: m[0], groups, named: { ...m.groups }, index, end };
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

/**
 * Where a search begins: at the cursor the first time, then MATCH_WINDOW before what was already
 * searched, moved back to the start of its line (so `^` never matches in the middle of a line),
 * never before the cursor.
 */
export function searchStart(text: string, cursor: number, searched: number): number {
  const want = searched - MATCH_WINDOW;
  if (want <= cursor) return cursor;
  const lineStart = text.lastIndexOf('\n', want - 1) + 1;
  // A line longer than the window: start inside it rather than search it all again.
  return Math.max(cursor, lineStart < want - MATCH_WINDOW ? want : lineStart);
}
