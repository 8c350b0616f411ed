/**
 * Reading a boot transcript: the firmware's banner, its boot manager's lines (edk2's BdsDxe), the
 * loader it started, the guest's readiness. Pure functions over the console text.
 */

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-9;?=]*[A-Za-z]|[()][A-Za-z0-9]|[=>])/g;

/** The console as lines, terminal escapes dropped (edk2 clears the screen between lines). */
export function consoleLines(transcript: string): string[] {
  return transcript
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.replace(/\r/g, '').trimEnd())
    .filter((l) => l.length > 0);
}

/** What distro consoles and the reference guest print when they are up. */
export const DEFAULT_READY_PATTERNS: readonly RegExp[] = [/VMFARM-READY/, /\blogin: ?$/m];

/** The readiness patterns: the submitter's first, then the defaults. */
export function readyPatterns(ready?: string): RegExp[] {
  return ready ? [new RegExp(ready, 'm'), ...DEFAULT_READY_PATTERNS] : [...DEFAULT_READY_PATTERNS];
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
  /** Every line in which the firmware says what it could not boot. */
  firmwareWords: string[];
}

export function scanTranscript(transcript: string, readyPatterns: readonly RegExp[]): TranscriptScan {
  const lines = consoleLines(transcript);
  const scan: TranscriptScan = { firstLine: lines[0], firmwareWords: [] };
  for (const line of lines) {
    if (!scan.banner && BANNER.test(line)) scan.banner = line;
    if (!scan.loader && (LOADER.test(line) || LOADER_SELF.test(line))) scan.loader = line;
    if (FIRMWARE_WORDS.test(line)) scan.firmwareWords.push(line);
    // The shell prompt alone counts only when no loader of the image ran (an image may ship a shell).
    if (
      !scan.gaveUp &&
      !scan.ready &&
      GAVE_UP.some((p) => p.test(line)) &&
      !(scan.loader && /^Shell>/.test(line))
    )
      scan.gaveUp = line;
    if (!scan.ready && !scan.gaveUp) {
      const pattern = readyPatterns.find((p) => p.test(line));
      if (pattern) scan.ready = { line, pattern: String(pattern) };
    }
  }
  return scan;
}

/** One pattern that ends the wait: ready, or the firmware gave up. */
export function endPattern(readyPatterns: readonly RegExp[]): RegExp {
  return new RegExp([...readyPatterns, ...GAVE_UP].map((p) => `(?:${p.source})`).join('|'), 'm');
}
