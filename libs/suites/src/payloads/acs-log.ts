/**
 * A reader of the logs of Arm's architecture compliance suites (VBSA, BSA, SBSA from sysarch-acs),
 * as they print them on the UEFI console:
 *
 *     *** Running GIC tests ***
 *   V_L1GI_01 : - : Check vGIC architectural compliance
 *     === Start tests for rules referenced by V_L1GI_01 ===
 *       B_GIC_01 : 201 : Check GIC version
 *          Result:  PASSED
 *     === End tests for rules referenced by V_L1GI_01 ===
 *      Result:  PASSED(*PARTIAL)
 *   ---------- ACS Summary ----------
 *      Total Rules Run        : 24
 *   ...
 *         *** VBSA tests complete. Reset the system. ***
 *
 * A rule at the start of a line is one the suite selected (the `Selected rules:` list names them
 * all up front); an indented rule is a sub-rule of the one whose block it is in. A `Result:` line
 * closes the innermost open rule. The parser never invents a result: a rule the log does not
 * finish is `reached` without a result, one it never starts is listed in `unreached`.
 */

export const ACS_RESULTS = [
  'PASSED',
  'FAILED',
  'SKIPPED',
  'WARNING',
  'PASSED(*PARTIAL)',
  'NOT TESTED (TEST NOT IMPLEMENTED)',
  'NOT TESTED (PAL NOT SUPPORTED)',
] as const;

export interface AcsRule {
  id: string;
  /** The test number Arm prints (`401`), or `-` when the rule has no test of its own. */
  test: string;
  description: string;
  /** The module header the rule ran under (`GIC`, `TIMER`). */
  module: string | null;
  /** The result as printed: one of ACS_RESULTS, or text this parser does not know. Null: none printed. */
  result: string | null;
  /** What the suite printed between the rule and its result (Arm's reasons: "Skipped at checkpoint - 1"). */
  notes: string[];
  /** 1-based line of the rule in the log. */
  line: number;
  subRules: AcsRule[];
}

export const SUMMARY_FIELDS = {
  'Total Rules Run': 'total',
  Passed: 'passed',
  'Passed (*Partial)': 'partial',
  Warnings: 'warnings',
  Skipped: 'skipped',
  Failed: 'failed',
  'PAL Not Supported': 'palNotSupported',
  'Test Not Implemented': 'notImplemented',
} as const;
export type AcsSummary = Partial<Record<(typeof SUMMARY_FIELDS)[keyof typeof SUMMARY_FIELDS], number>>;

export interface AcsLog {
  /** `VBSA Architecture Compliance Suite` / `Version 1.0.0`, when printed. */
  suite: string | null;
  version: string | null;
  /** The rules the suite said it would run, in order; null when the log ends before that line. */
  selected: string[] | null;
  /** Rules the run was told to skip (`-skip`): not run, and not missing either. */
  skippedByArgs: string[];
  /** Top-level rules, in the order they ran. */
  rules: AcsRule[];
  /** Selected rules the log never started (a hang, a reset, a time limit). */
  unreached: string[];
  /** The ACS Summary block, when the log reaches it. */
  summary: AcsSummary | null;
  /** The end marker was printed. */
  complete: boolean;
  /** The last non-empty line of the log (where a cut-short log stopped). */
  lastLine: string | null;
}

// Console output of a UEFI application: CSI sequences (cursor, colours) and stray CRs.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?=]*[A-Za-z]/g;
const RULE = /^( *)([A-Z][A-Z0-9]*_[A-Z0-9_]+) : (\S+) :\s?(.*?)\s*$/;
const RESULT = /^\s*Result:\s+(.+?)\s*$/;
const MODULE = /^\s*\*\*\* Running (.+?) tests \*\*\*\s*$/;
const BLOCK_START = /^\s*=== Start tests for rules referenced by (\S+) ===/;
const BLOCK_END = /^\s*=== End tests for rules referenced by (\S+) ===/;
const SELECTED = /^\s*Selected rules:\s*(.*?)\s*$/;
const SKIPPED_BY_ARGS = /^\s*Skipped rules \(-skip\):\s*(.*?)\s*$/;
const ruleList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const SUMMARY_LINE = /^\s*([A-Za-z (*)]+?)\s*:\s*(\d+)\s*$/;
const TITLE = /^\s*(\S+) Architecture Compliance Suite\s*$/;
const VERSION = /^\s*Version\s+(\S+)\s*$/;

/** Splits console output into lines: CRs, escape sequences and NULs dropped. */
export function logLines(text: string): string[] {
  return text
    .replace(ANSI, '')
    .replace(/[\r\0]/g, '')
    .split('\n');
}

export function parseAcsLog(text: string, endMarker: string): AcsLog {
  const lines = logLines(text);
  // A line still arriving (no newline yet) may be a result cut in the middle: `PASSED` of
  // `PASSED(*PARTIAL)`. Only a rule's start (a hang leaves `V_L1WK_02 : - : …` so) and the end
  // marker are read from it.
  const partial = lines.length > 1 && lines.at(-1) !== '' ? lines.pop()! : '';
  if (RULE.test(partial)) lines.push(partial);
  const log: AcsLog = {
    suite: null,
    version: null,
    selected: null,
    skippedByArgs: [],
    rules: [],
    unreached: [],
    summary: null,
    complete: false,
    lastLine: null,
  };
  let module: string | null = null;
  let top: AcsRule | null = null;
  let sub: AcsRule | null = null;
  let inBlock = false;
  let inSummary = false;

  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.trim()) log.lastLine = line.trim();
    if (line.includes(endMarker)) {
      log.complete = true;
      return;
    }
    let m: RegExpExecArray | null;
    if (inSummary) {
      if ((m = SUMMARY_LINE.exec(line))) {
        const key = SUMMARY_FIELDS[m[1]!.trim() as keyof typeof SUMMARY_FIELDS];
        if (key) (log.summary ??= {})[key] = Number(m[2]);
        return;
      }
      if (/^-+$/.test(line.trim())) {
        inSummary = false;
        return;
      }
    }
    if (/^-+\s*ACS Summary\s*-+$/.test(line.trim())) {
      inSummary = true;
      log.summary ??= {};
      return;
    }
    if (!log.suite && (m = TITLE.exec(line))) log.suite = m[1]!;
    else if (!log.version && (m = VERSION.exec(line))) log.version = m[1]!;
    else if (!log.selected && (m = SELECTED.exec(line))) log.selected = ruleList(m[1]!);
    else if ((m = SKIPPED_BY_ARGS.exec(line))) log.skippedByArgs.push(...ruleList(m[1]!));
    else if ((m = MODULE.exec(line))) {
      if (!inBlock) module = m[1]!;
    } else if ((m = BLOCK_START.exec(line))) inBlock = true;
    else if ((m = BLOCK_END.exec(line))) {
      inBlock = false;
      sub = null;
    } else if ((m = RULE.exec(line))) {
      const rule: AcsRule = {
        id: m[2]!,
        test: m[3]!,
        description: m[4]!,
        module,
        result: null,
        notes: [],
        line: i + 1,
        subRules: [],
      };
      if (m[1]!.length === 0 || !top || top.result !== null) {
        top = rule;
        sub = null;
        inBlock = false;
        log.rules.push(rule);
      } else {
        sub = rule;
        top.subRules.push(rule);
      }
    } else if ((m = RESULT.exec(line))) {
      const open = sub && sub.result === null ? sub : top && top.result === null ? top : null;
      if (open) open.result = m[1]!;
      if (open === sub) sub = null;
    } else if (line.trim()) {
      const open = sub && sub.result === null ? sub : top && top.result === null ? top : null;
      if (open && open.notes.length < 50) open.notes.push(line.trim());
    }
  });

  if (partial.includes(endMarker)) log.complete = true;
  if (partial.trim()) log.lastLine = partial.trim();
  const seen = new Set(log.rules.map((r) => r.id));
  const skipped = new Set(log.skippedByArgs);
  log.unreached = (log.selected ?? []).filter((id) => !seen.has(id) && !skipped.has(id));
  return log;
}
