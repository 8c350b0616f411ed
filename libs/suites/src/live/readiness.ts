/**
 * Booting an instance and waiting for it to be ready: the `boot` and `ready` stages of every live
 * suite, and whose fault it is when an instance never gets there.
 */
import {
  SessionClosedError,
  SessionTimeoutError,
  VmExitedError,
  type BootedVm,
  type VmOverrides,
  type VmSession,
} from '@vmfarm/session';
import { sniffFormat, sniffHead } from '@vmfarm/image';
import type { SuiteContext, SuiteOutcome } from '../suite';
import { FARM_READY, parseReport, type GuestReport } from './guest';
import type { Stages } from './stages';
import {
  consoleLines,
  endPattern,
  TranscriptScanner,
  type LinePattern,
  type TranscriptScan,
} from './transcript';

const SAMPLE_MS = 100;

/** How a wait for readiness ended (a fatal line or the firmware giving up end it as `matched`). */
export type BootEnd =
  | { kind: 'matched' }
  /** The guest printed nothing that ends the wait in time, and the VM still runs. */
  | { kind: 'timeout'; timeoutMs: number }
  /** The VM process went away; `byGuest` when the guest powered it off (QEMU exited with status 0). */
  | { kind: 'exited'; message: string; byGuest: boolean }
  /** The wait ran out and the VM's host side says it does not run (hung, stopped, paused). */
  | { kind: 'hung'; message: string }
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

/** One booted instance as the live suites see it. */
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

/** qcow2 by its magic, else raw: the VM reads the image, the live suites do not parse it. */
export function imageOf(ctx: SuiteContext): SuiteOutcome['image'] {
  let format: SuiteOutcome['image']['format'] = 'raw';
  try {
    format = sniffFormat(sniffHead(ctx.imagePath));
  } catch {
    // unreadable here: the VM start reports it
  }
  return { format, arch: ctx.arch };
}

/** Notes when each stage first shows on the console, reading each new line once while the wait runs. */
function sampleStages(session: VmSession, startedAt: number, stages: StageTimes, scanner: TranscriptScanner) {
  const sample = (final = false) => {
    const now = Date.now() - startedAt;
    const scan = scanner.feed(session.console.transcript(), final);
    if (scan.firstLine) stages.firstOutput ??= now;
    if (scan.banner) stages.firmware ??= now;
    if (scan.loader) stages.loader ??= now;
    if (scan.ready) stages.ready ??= now;
    if (scan.gaveUp || scan.fatal) stages.gaveUp ??= now;
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return () => (clearInterval(timer), sample(true));
}

/**
 * Waits until the guest is ready, the firmware gave up, a fatal line shows, or the VM stops, in
 * output not seen by an earlier wait: the first boot, and again after a reboot, reset or power cycle.
 */
export async function waitReady(
  session: VmSession,
  patterns: readonly LinePattern[],
  signal: AbortSignal,
  timeoutMs: number,
): Promise<{ end: BootEnd; line?: string; at: number }> {
  try {
    const m = await session.console.expect(endPattern(patterns), timeoutMs);
    const line = consoleLines(m.text).pop() ?? m.text;
    return { end: { kind: 'matched' }, line, at: m.end };
  } catch (err) {
    const at = session.console.transcript().length;
    if (signal.aborted) return { end: { kind: 'aborted', message: 'the run was aborted' }, at };
    if (err instanceof SessionTimeoutError) return { end: { kind: 'timeout', timeoutMs }, at };
    if (err instanceof VmExitedError)
      return {
        end: { kind: 'exited', message: err.message, byGuest: err.exit === 'exited with status 0' },
        at,
      };
    if (err instanceof SessionClosedError) return { end: { kind: 'aborted', message: err.message }, at };
    throw err;
  }
}

/**
 * The `ready` stage, then, when its wait ran out, an `observe` stage asking the VM's host side
 * whether the VM still runs: a hung or stopped VM (the farm's ERROR) is told from a guest that never
 * got ready (the image's FAIL).
 */
export async function awaitReady(
  stages: Stages,
  label: string,
  session: VmSession,
  patterns: readonly LinePattern[],
): Promise<{ end: BootEnd; line?: string; at: number }> {
  const waited = await stages.run('ready', label, ({ signal, deadlineMs }) =>
    waitReady(session, patterns, signal, deadlineMs),
  );
  if (waited.end.kind !== 'timeout') return waited;
  const state = await stages.run('observe', `${label}: does the VM run?`, () => session.state());
  return state.running ? waited : { ...waited, end: { kind: 'hung', message: state.why } };
}

/**
 * Boots a new instance (with `overrides`) and waits for readiness, in the `boot` and `ready` stages.
 * Throws only when the VM could not be started at all (the farm's or host's fault, or the target
 * refusing the boot); a guest that never gets ready is in `end`.
 */
export async function startInstance(
  stages: Stages,
  patterns: readonly LinePattern[],
  overrides: VmOverrides = {},
  label = 'profile',
): Promise<Instance> {
  const booted = await stages.boot(overrides, label);
  const times: StageTimes = { vmStarted: Date.now() - booted.startedAt };
  const scanner = new TranscriptScanner(patterns);
  const stop = sampleStages(booted.session, booted.startedAt, times, scanner);
  let waited: Awaited<ReturnType<typeof waitReady>>;
  try {
    waited = await awaitReady(stages, label, booted.session, patterns);
  } finally {
    stop();
  }
  const transcript = booted.session.console.transcript();
  const scan = scanner.scan;
  const farm = waited.end.kind === 'matched' && waited.line === FARM_READY;
  const report = farm ? parseReport(transcript, waited.at) : undefined;
  return {
    label,
    overrides,
    booted,
    session: booted.session,
    end: waited.end,
    stages: times,
    scan,
    farm,
    ...(report ? { report } : {}),
  };
}

/** The instance got to its readiness line (not a firmware giving up, not a panic). */
export const isReady = (i: Instance) =>
  i.end.kind === 'matched' && !!i.scan.ready && !i.scan.gaveUp && !i.scan.fatal;

/**
 * Why an instance is not usable, and whose fault that is: ERROR when the farm cannot tell or the VM
 * itself went (no output, aborted, hung, lost), FAIL when the VM ran and the guest or firmware did
 * not get there (a panic, the firmware giving up or refusing the loader, no readiness in time).
 */
export function notReady(i: Instance): {
  verdict: 'ERROR' | 'FAIL';
  message: string;
  evidence: Record<string, unknown>;
} {
  const lastLines = consoleLines(i.session.console.transcript()).slice(-5);
  const evidence: Record<string, unknown> = { boot: i.label, stagesMs: i.stages, lastLines };
  const end = i.end;
  if (end.kind === 'aborted') return { verdict: 'ERROR', message: `not evaluated: ${end.message}`, evidence };
  if (!i.scan.firstLine)
    return {
      verdict: 'ERROR',
      message: `no console output from the VM (${i.label}): ${end.kind === 'exited' || end.kind === 'hung' ? end.message : 'nothing within the timeout'}`,
      evidence,
    };
  if (end.kind === 'hung')
    return {
      verdict: 'ERROR',
      message: `${i.label}: the VM stopped running before the guest was ready: ${end.message}`,
      evidence,
    };
  if (i.scan.fatal)
    return {
      verdict: 'FAIL',
      message: `${i.label}: ${i.scan.fatal.what}: "${i.scan.fatal.line}"`,
      evidence: { ...evidence, fatal: i.scan.fatal.line },
    };
  if (i.scan.gaveUp)
    return {
      verdict: 'FAIL',
      message: `${i.label}: the firmware could not boot the image: ${[...i.scan.firmwareWords, i.scan.gaveUp].join(' / ')}`,
      evidence,
    };
  if (end.kind === 'exited')
    return end.byGuest
      ? { verdict: 'FAIL', message: `${i.label}: the guest powered the VM off before it was ready`, evidence }
      : {
          verdict: 'ERROR',
          message: `${i.label}: the VM went away before it was ready (${end.message.split(';')[0]})`,
          evidence,
        };
  const ms = end.kind === 'timeout' ? end.timeoutMs : 0;
  return { verdict: 'FAIL', message: `${i.label}: not ready within ${(ms / 1000).toFixed(0)} s`, evidence };
}
