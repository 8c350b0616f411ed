/**
 * The reference guest's command protocol (fixtures/guest/README.md): it prints a report block and
 * VMFARM-READY when up, then answers `vmfarm <command>` lines with one `VMFARM-OK|ERR <command> …`
 * line. A distro image has no such loop; suites check `farm` before they type anything.
 */
import type { VmSession } from '@vmfarm/session';

/** What the reference guest prints when it is up and its command loop listens. */
export const FARM_READY = 'VMFARM-READY';
/** A reference-guest command answers in well under a second; allow for a loaded host. */
export const COMMAND_TIMEOUT_MS = 30_000;

/** What the reference guest reported: `key=value` lines. */
export type GuestReport = Record<string, string>;

/** The reference guest's last report block before `end` in the transcript. */
export function parseReport(transcript: string, end = transcript.length): GuestReport | undefined {
  const text = transcript.slice(0, end);
  const begin = text.lastIndexOf('VMFARM-REPORT-BEGIN\n');
  if (begin < 0) return undefined;
  const stop = text.indexOf('VMFARM-REPORT-END', begin);
  if (stop < 0) return undefined;
  const report: GuestReport = {};
  for (const line of text.slice(begin, stop).split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) report[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return report;
}

/** One answer of the command loop. */
export interface GuestAnswer {
  ok: boolean;
  /** The words after `VMFARM-OK <command>` / `VMFARM-ERR <command>`. */
  rest: string;
  line: string;
  /** Where the answer ends in the transcript. */
  at: number;
}

/** Sends `vmfarm <words>` and waits for its one-line answer. */
export async function command(
  i: { session: VmSession },
  words: string,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<GuestAnswer> {
  const name = words.split(' ')[0];
  const answer = new RegExp(`^VMFARM-(OK|ERR) (?:${name}|unknown-command)\\b(.*)\\n`, 'm');
  i.session.console.send(`vmfarm ${words}\n`);
  const m = await i.session.console.expect(answer, timeoutMs);
  return { ok: m.groups[0] === 'OK', rest: (m.groups[1] ?? '').trim(), line: m.text.trim(), at: m.end };
}

/** A fresh report from the guest (the `report` command); kept as the instance's latest. */
export async function freshReport(i: { session: VmSession; report?: GuestReport }): Promise<GuestReport> {
  const a = await command(i, 'report');
  const report = parseReport(i.session.console.transcript(), a.at);
  if (!a.ok || !report) throw new Error(`the guest answered "${a.line}" to vmfarm report`);
  i.report = report;
  return report;
}

/** `name=value` words of an answer such as `n=2 vda=266240@0000:00:01.0`. */
export function answerWords(rest: string): Record<string, string> {
  const words: Record<string, string> = {};
  for (const w of rest.split(/\s+/)) {
    const eq = w.indexOf('=');
    if (eq > 0) words[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return words;
}
