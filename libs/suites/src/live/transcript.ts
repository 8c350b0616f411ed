/**
 * Reading a boot transcript: the firmware's banner, its boot manager's lines (edk2's BdsDxe), the
 * loader it started, the guest's readiness, and what ends a boot at once (a kernel panic or oops,
 * the firmware refusing the loader), as LAVA's kernel-messages monitor does. Pure functions over the
 * console text; a pattern a user wrote runs on a linear-time engine (RE2), never on JavaScript's.
 */
import type { ConsoleMatcher } from '@vmfarm/session';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-9;?=]*[A-Za-z]|[()][A-Za-z0-9]|[=>])/g;

const lineOf = (raw: string) => raw.replace(ANSI, '').replace(/\r/g, '').trimEnd();

/** The console as lines, terminal escapes dropped (edk2 clears the screen between lines). */
export function consoleLines(transcript: string): string[] {
  return transcript
    .split('\n')
    .map(lineOf)
    .filter((l) => l.length > 0);
}

/** A pattern tried on whole lines and on the console: a RegExp of the farm's, or a user's on RE2. */
export interface LinePattern extends ConsoleMatcher {
  readonly source: string;
  test(line: string): boolean;
}

/** What distro consoles and the reference guest print when they are up. */
export const DEFAULT_READY_PATTERNS: readonly LinePattern[] = [/VMFARM-READY/, /\blogin: ?$/m];

interface Re2Class {
  new (
    pattern: string,
    flags: string,
  ): LinePattern & {
    exec(text: string): (RegExpExecArray & { index: number }) | null;
  };
}
let re2: Re2Class | undefined;

/**
 * A pattern a user wrote, compiled by RE2 (linear time in the text, whatever the pattern: it cannot
 * stall the agent). Loaded on first use, so that commands that need no user pattern never pay for it.
 * Throws for what RE2 cannot run (back-references, lookaround; readyPatternProblem refuses those
 * when the matrix is submitted).
 */
export function userPattern(source: string): LinePattern {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  re2 ??= (require('re2-wasm') as { RE2: Re2Class }).RE2;
  return new re2(source, 'mu');
}

/** The readiness patterns: the submitter's first (on RE2), then the defaults. */
export function readyPatterns(ready?: string): LinePattern[] {
  return ready ? [userPattern(ready), ...DEFAULT_READY_PATTERNS] : [...DEFAULT_READY_PATTERNS];
}

/** The firmware's banner: edk2 prints "UEFI firmware (version …)"; other builds name EDK II or edk2. */
const BANNER = /UEFI firmware \(version|\bEDK II\b|\bedk2\b|\bUEFI\b.*\bfirmware\b/i;
/** edk2's boot manager starting an option from a device (not from a firmware volume: its own apps). */
const LOADER = /BdsDxe: starting Boot[0-9A-Fa-f]{4} "[^"]*" from (?!Fv\()/;
/** Loaders that announce themselves, for firmware builds that print no BdsDxe lines. */
const LOADER_SELF = /Welcome to GRUB|EFI stub: |systemd-boot|Booting `/;
/** The firmware gave up on the disk: it starts its own shell or says no option could boot. */
const GAVE_UP = [
  /BdsDxe: No bootable option or device was found/,
  /BdsDxe: starting Boot[0-9A-Fa-f]{4} "[^"]*" from Fv\(/,
  /^Shell> ?$/m,
];
/** The firmware's own words about what it could not boot. */
const FIRMWARE_WORDS =
  /BdsDxe: failed to (load|start)|BdsDxe: No bootable option|Access Denied|Security Violation|Boot Manager Menu/;

/** Lines that end a boot at once: nothing good follows them. */
export const FATAL: readonly { pattern: RegExp; who: 'kernel' | 'firmware'; what: string }[] = [
  { pattern: /Kernel panic - not syncing/, who: 'kernel', what: 'the kernel panicked' },
  { pattern: /Internal error: Oops/, who: 'kernel', what: 'the kernel oopsed' },
  {
    pattern: /Unable to handle kernel (NULL pointer dereference|paging request)/,
    who: 'kernel',
    what: 'the kernel oopsed',
  },
  {
    pattern: /Access Denied|Security Violation/,
    who: 'firmware',
    what: "the firmware refused the image's loader",
  },
];

export interface TranscriptScan {
  /** The first line of any output. */
  firstLine?: string;
  banner?: string;
  /** The line that shows the image's loader started. */
  loader?: string;
  /** The line that matched a readiness pattern, and the pattern. */
  ready?: { line: string; pattern: string };
  /** The line that shows the firmware gave up on the image. */
  gaveUp?: string;
  /** The first line that ended the boot at once, and what it means. */
  fatal?: { line: string; who: 'kernel' | 'firmware'; what: string };
  /** Every line in which the firmware says what it could not boot. */
  firmwareWords: string[];
}

/**
 * Scans a console line by line as output arrives: `feed` the whole transcript so far, as often as
 * wanted; each line is read once (the cost is the output's length, not the number of calls).
 */
export class TranscriptScanner {
  readonly scan: TranscriptScan = { firmwareWords: [] };
  private consumed = 0;

  constructor(private readonly readyPatterns: readonly LinePattern[]) {}

  /** Reads the complete lines of `transcript` not read yet; `final` reads a last partial line too. */
  feed(transcript: string, final = false): TranscriptScan {
    let end = transcript.lastIndexOf('\n') + 1;
    if (final) end = transcript.length;
    if (end <= this.consumed) return this.scan;
    for (const raw of transcript.slice(this.consumed, end).split('\n')) {
      const line = lineOf(raw);
      if (line) this.line(line);
    }
    this.consumed = end;
    return this.scan;
  }

  private line(line: string): void {
    const scan = this.scan;
    scan.firstLine ??= line;
    if (!scan.banner && BANNER.test(line)) scan.banner = line;
    if (!scan.loader && (LOADER.test(line) || LOADER_SELF.test(line))) scan.loader = line;
    if (FIRMWARE_WORDS.test(line)) scan.firmwareWords.push(line);
    const over = () => scan.ready || scan.gaveUp || scan.fatal;
    if (!over()) {
      const fatal = FATAL.find((f) => f.pattern.test(line));
      if (fatal) scan.fatal = { line, who: fatal.who, what: fatal.what };
    }
    // The shell prompt alone counts only when no loader of the image ran (an image may ship a shell).
    if (!over() && GAVE_UP.some((p) => p.test(line)) && !(scan.loader && /^Shell>/.test(line)))
      scan.gaveUp = line;
    if (!over()) {
      const pattern = this.readyPatterns.find((p) => p.test(line));
      if (pattern) scan.ready = { line, pattern: String(pattern) };
    }
  }
}

export function scanTranscript(transcript: string, readyPatterns: readonly LinePattern[]): TranscriptScan {
  return new TranscriptScanner(readyPatterns).feed(transcript, true);
}

/**
 * One pattern that ends the wait for readiness: ready, the firmware gave up, or a fatal line. On RE2
 * when a user's pattern is among them (the farm's patterns are RE2's syntax too).
 */
export function endPattern(readyPatterns: readonly LinePattern[]): LinePattern {
  const sources = [...readyPatterns, ...GAVE_UP, ...FATAL.map((f) => f.pattern)].map(
    (p) => `(?:${p.source})`,
  );
  const anyUser = readyPatterns.some((p) => !(p instanceof RegExp));
  return anyUser ? userPattern(sources.join('|')) : new RegExp(sources.join('|'), 'm');
}
