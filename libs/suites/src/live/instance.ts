import { clause, type Verdict, type VerdictRecord } from '@vmfarm/protocol';
import { closeSync, openSync, readSync } from 'node:fs';
import {
  SessionClosedError,
  SessionTimeoutError,
  VmExitedError,
  type BootedVm,
  type VmOverrides,
  type VmSession,
} from '@vmfarm/session';
import type { SuiteContext, SuiteOutcome } from '../suite';
import { consoleLines, endPattern, scanTranscript, type TranscriptScan } from './transcript';

/**
 * One booted instance as the live suites see it: how its wait for readiness ended, and, when the
 * image is the farm's reference guest (it prints VMFARM-READY), its report and command loop.
 */

/** Until the guest is ready: the reference guest takes 3–6 s under TCG (aarch32 about 10–25 s); distro images longer. */
export const READY_TIMEOUT_MS = 180_000;
/** A reference-guest command answers in well under a second; allow for a loaded host. */
export const COMMAND_TIMEOUT_MS = 30_000;
const SAMPLE_MS = 100;
const FARM_READY = 'VMFARM-READY';

/** How a wait for readiness ended. */
export type BootEnd =
  | { kind: 'matched' }
  | { kind: 'timeout'; timeoutMs: number }
  /** The VM process went away (QEMU exited or was killed). */
  | { kind: 'exited'; message: string }
  | { kind: 'aborted'; message: string };

/** Milliseconds from the start of the VM to each stage, as first seen on the console. */
export interface StageTimes {
  vmStarted?: number;
  firstOutput?: number;
  firmware?: number;
  loader?: number;
  ready?: number;
  gaveUp?: number;
}

/** What the reference guest reported (README of fixtures/guest): `key=value` lines. */
export type GuestReport = Record<string, string>;

export interface Instance {
  /** Which boot of the suite this is, for evidence (e.g. `gic=2`). */
  label: string;
  overrides: VmOverrides;
  booted: BootedVm;
  session: VmSession;
  end: BootEnd;
  stages: StageTimes;
  scan: TranscriptScan;
  /** The reference guest's command loop is there (it printed VMFARM-READY). */
  farm: boolean;
  /** The reference guest's latest report. */
  report?: GuestReport;
}

export type VerdictMaker = (
  clauseId: string,
  verdict: Verdict,
  message: string,
  evidence?: Record<string, unknown>,
) => VerdictRecord;

export function verdictMaker(suite: string): VerdictMaker {
  return (clauseId, verdict, message, evidence = {}) => ({
    suite,
    clause: clauseId,
    level: clause(clauseId).level,
    verdict,
    message,
    evidence,
  });
}

/** qcow2 by its magic, else raw: the VM reads the image, the live suites do not parse it. */
export function imageOf(ctx: SuiteContext): SuiteOutcome['image'] {
  let format: SuiteOutcome['image']['format'] = 'raw';
  try {
    const fd = openSync(ctx.imagePath, 'r');
    try {
      const magic = Buffer.alloc(4);
      readSync(fd, magic, 0, 4, 0);
      if (magic.toString('latin1') === 'QFI\xfb') format = 'qcow2';
    } finally {
      closeSync(fd);
    }
  } catch {
    // unreadable here: the VM start reports it
  }
  return { format, arch: ctx.arch };
}

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

/** Notes when each stage first shows on the console, sampling it while the wait runs. */
function sampleStages(
  session: VmSession,
  startedAt: number,
  stages: StageTimes,
  patterns: readonly RegExp[],
) {
  const sample = () => {
    const now = Date.now() - startedAt;
    const scan = scanTranscript(session.console.transcript(), patterns);
    if (scan.firstLine) stages.firstOutput ??= now;
    if (scan.banner) stages.firmware ??= now;
    if (scan.loader) stages.loader ??= now;
    if (scan.ready) stages.ready ??= now;
    if (scan.gaveUp) stages.gaveUp ??= now;
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return () => (clearInterval(timer), sample());
}

/**
 * Waits until the guest is ready (or the firmware gave up, or the VM stopped) in output not seen
 * by an earlier wait: the first boot, and again after a reboot, reset or power cycle.
 */
export async function waitReady(
  session: VmSession,
  patterns: readonly RegExp[],
  signal: AbortSignal,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<{ end: BootEnd; line?: string; at: number }> {
  const onAbort = () => void session.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const m = await session.console.expect(endPattern(patterns), timeoutMs);
    const line = consoleLines(m.text).pop() ?? m.text;
    return { end: { kind: 'matched' }, line, at: m.end };
  } catch (err) {
    const at = session.console.transcript().length;
    if (signal.aborted) return { end: { kind: 'aborted', message: 'the run was aborted' }, at };
    if (err instanceof SessionTimeoutError) return { end: { kind: 'timeout', timeoutMs }, at };
    if (err instanceof VmExitedError || err instanceof SessionClosedError)
      return { end: { kind: 'exited', message: err.message }, at };
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Boots a new instance (with `overrides`) and waits for readiness. Throws only when the VM could not
 * be started at all (the farm's or host's fault); a guest that never gets ready is in `end`.
 */
export async function startInstance(
  ctx: SuiteContext,
  patterns: readonly RegExp[],
  overrides: VmOverrides = {},
  label = 'profile',
): Promise<Instance> {
  if (!ctx.vm) throw new Error(`target ${ctx.target.id} (kind ${ctx.target.kind}) gives this suite no VM`);
  const booted = await ctx.vm.boot(overrides);
  const stages: StageTimes = { vmStarted: Date.now() - booted.startedAt };
  const stop = sampleStages(booted.session, booted.startedAt, stages, patterns);
  let waited: Awaited<ReturnType<typeof waitReady>>;
  try {
    waited = await waitReady(booted.session, patterns, ctx.signal);
  } finally {
    stop();
  }
  const transcript = booted.session.console.transcript();
  const scan = scanTranscript(transcript, patterns);
  const farm = waited.end.kind === 'matched' && waited.line === FARM_READY;
  const report = farm ? parseReport(transcript, waited.at) : undefined;
  return {
    label,
    overrides,
    booted,
    session: booted.session,
    end: waited.end,
    stages,
    scan,
    farm,
    ...(report ? { report } : {}),
  };
}

/** The instance got to its readiness line (not a firmware giving up). */
export const isReady = (i: Instance) => i.end.kind === 'matched' && !!i.scan.ready && !i.scan.gaveUp;

/**
 * Why an instance is not usable, and whose fault that is: ERROR when the farm cannot tell (no
 * output at all, aborted), FAIL when the VM ran and the guest or firmware did not get there.
 */
export function notReady(i: Instance): {
  verdict: 'ERROR' | 'FAIL';
  message: string;
  evidence: Record<string, unknown>;
} {
  const lastLines = consoleLines(i.session.console.transcript()).slice(-5);
  const evidence = { boot: i.label, stagesMs: i.stages, lastLines };
  if (i.end.kind === 'aborted')
    return { verdict: 'ERROR', message: `not evaluated: ${i.end.message}`, evidence };
  if (!i.scan.firstLine)
    return {
      verdict: 'ERROR',
      message: `no console output from the VM (${i.label}): ${i.end.kind === 'exited' ? i.end.message : 'nothing within the timeout'}`,
      evidence,
    };
  if (i.scan.gaveUp)
    return {
      verdict: 'FAIL',
      message: `${i.label}: the firmware could not boot the image: ${[...i.scan.firmwareWords, i.scan.gaveUp].join(' / ')}`,
      evidence,
    };
  const why =
    i.end.kind === 'exited'
      ? `the VM stopped before it was ready (${i.end.message.split(';')[0]})`
      : `not ready within ${((i.end.kind === 'timeout' ? i.end.timeoutMs : 0) / 1000).toFixed(0)} s`;
  return { verdict: 'FAIL', message: `${i.label}: ${why}`, evidence };
}

/** One answer of the reference guest's command loop. */
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
  i: Instance,
  words: string,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<GuestAnswer> {
  const name = words.split(' ')[0];
  const answer = new RegExp(`^VMFARM-(OK|ERR) (?:${name}|unknown-command)\\b(.*)\\n`, 'm');
  i.session.console.send(`vmfarm ${words}\n`);
  const m = await i.session.console.expect(answer, timeoutMs);
  return { ok: m.groups[0] === 'OK', rest: (m.groups[1] ?? '').trim(), line: m.text.trim(), at: m.end };
}

/** A fresh report from the guest (the `report` command). */
export async function freshReport(i: Instance): Promise<GuestReport> {
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

/** The clauses a live suite has not judged yet, as ERROR with `message` (the farm or host broke). */
export function unjudged(
  v: VerdictMaker,
  clauses: readonly string[],
  judged: readonly VerdictRecord[],
  message: string,
): VerdictRecord[] {
  const done = new Set(judged.map((j) => j.clause));
  return clauses.filter((c) => !done.has(c)).map((c) => v(c, 'ERROR', message));
}

/**
 * Runs a live suite's body: verdicts it pushes to `out` are kept; an exception (a VM that cannot be
 * started, a guest that stops answering) turns the clauses not yet judged into ERROR with its message.
 */
export async function runLive(
  ctx: SuiteContext,
  suite: string,
  clauses: readonly string[],
  body: (out: VerdictRecord[]) => Promise<void>,
): Promise<SuiteOutcome> {
  const image = imageOf(ctx);
  const out: VerdictRecord[] = [];
  try {
    await body(out);
  } catch (err) {
    const e = err as Error;
    const message = ctx.signal.aborted ? 'not evaluated: the run was aborted' : `${e.name}: ${e.message}`;
    out.push(...unjudged(verdictMaker(suite), clauses, out, message));
  }
  const order = new Map(clauses.map((c, i) => [c, i]));
  out.sort((a, b) => (order.get(a.clause) ?? 99) - (order.get(b.clause) ?? 99));
  return { verdicts: out, image };
}
