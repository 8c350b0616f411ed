import { clause, type ImageFormat, type Verdict, type VerdictRecord } from '@vmfarm/protocol';
import { closeSync, openSync, readSync } from 'node:fs';
import type { BootedVm, Suite, SuiteContext, SuiteOutcome } from '../suite';
import {
  consoleLines,
  DEFAULT_READY_PATTERNS,
  endPattern,
  scanTranscript,
  type TranscriptScan,
} from './transcript';

export const BOOT_SUITE_ID = 'boot';
export const BOOT_CLAUSES = ['FW-UEFI', 'FW-DEFAULT-BOOT', 'IMG-NO-VARS'] as const;
/** Until the guest is ready: the reference guest takes 3–6 s under TCG; distro images take longer. */
export const BOOT_TIMEOUT_MS = 180_000;
const SAMPLE_MS = 100;

/** How the wait for readiness ended. */
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

export interface BootObservation {
  transcript: string;
  end: BootEnd;
  stages: StageTimes;
  variableStore: BootedVm['variableStore'];
  readyPatterns: readonly RegExp[];
}

function verdict(id: string, v: Verdict, message: string, evidence: Record<string, unknown>): VerdictRecord {
  return { suite: BOOT_SUITE_ID, clause: id, level: clause(id).level, verdict: v, message, evidence };
}

/** The readiness patterns: the submitter's first, then the defaults. */
export function readyPatterns(ready?: string): RegExp[] {
  return ready ? [new RegExp(ready, 'm'), ...DEFAULT_READY_PATTERNS] : [...DEFAULT_READY_PATTERNS];
}

const seconds = (ms: number | undefined) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));

/**
 * The verdicts of one boot, from what the console showed and how the wait ended. PASS: ready in
 * time. FAIL: the firmware said it could not boot the image (its words are the message), or the
 * guest never got ready. ERROR: the VM printed nothing or the run was aborted (the farm's fault).
 */
export function judgeBoot(o: BootObservation): VerdictRecord[] {
  const scan: TranscriptScan = scanTranscript(o.transcript, o.readyPatterns);
  const matched = [scan.banner, scan.loader, ...scan.firmwareWords, scan.gaveUp, scan.ready?.line].filter(
    (l, i, all): l is string => l !== undefined && all.indexOf(l) === i,
  );
  const lastLines = consoleLines(o.transcript).slice(-5);
  const common = { stagesMs: o.stages, matchedLines: matched };
  const all = (v: Verdict, message: string, extra: Record<string, unknown> = {}) =>
    BOOT_CLAUSES.map((id) => verdict(id, v, message, { ...common, ...extra }));

  if (o.end.kind === 'aborted') return all('ERROR', `not evaluated: ${o.end.message}`);
  if (!scan.firstLine) {
    const why =
      o.end.kind === 'exited'
        ? o.end.message
        : `the VM printed nothing in ${seconds(o.end.kind === 'timeout' ? o.end.timeoutMs : undefined)} s`;
    return all('ERROR', `no console output from the VM: ${why}`, { lastLines });
  }

  const ready = scan.ready;
  const notReady =
    o.end.kind === 'exited'
      ? `the VM stopped before it was ready (${o.end.message.split(';')[0]})`
      : `the guest was not ready within ${seconds(o.end.kind === 'timeout' ? o.end.timeoutMs : undefined)} s (patterns ${o.readyPatterns.map(String).join(', ')})`;
  const firmwareSays = scan.firmwareWords.length ? scan.firmwareWords.join(' / ') : scan.gaveUp;

  const fwUefi = scan.banner
    ? verdict('FW-UEFI', 'PASS', `the first software run was UEFI firmware: "${scan.banner}"`, {
        ...common,
        banner: scan.banner,
        loader: scan.loader ?? null,
      })
    : verdict(
        'FW-UEFI',
        'FAIL',
        `no UEFI firmware banner on the console before ${ready ? 'the guest was ready' : 'the end of the boot'}; first line: "${scan.firstLine}"`,
        { ...common, lastLines },
      );

  let defaultBoot: VerdictRecord;
  if (scan.gaveUp)
    defaultBoot = verdict(
      'FW-DEFAULT-BOOT',
      'FAIL',
      `with an empty variable store the firmware could not boot the removable-media path: ${firmwareSays}`,
      { ...common, firmware: scan.firmwareWords, gaveUp: scan.gaveUp },
    );
  else if (scan.loader || ready)
    defaultBoot = verdict(
      'FW-DEFAULT-BOOT',
      'PASS',
      `with an empty variable store the boot manager ran the image's loader: "${scan.loader ?? ready!.line}"`,
      { ...common, loader: scan.loader ?? null },
    );
  else
    defaultBoot = verdict('FW-DEFAULT-BOOT', 'FAIL', `the firmware started no loader: ${notReady}`, {
      ...common,
      firmware: scan.firmwareWords,
      lastLines,
    });

  const store = o.variableStore;
  const storeEvidence = { ...common, variableStore: store };
  let noVars: VerdictRecord;
  if (!store.pristine)
    noVars = verdict(
      'IMG-NO-VARS',
      'ERROR',
      `the instance's variable store was not pristine: ${store.detail}`,
      {
        ...storeEvidence,
      },
    );
  else if (ready && !scan.gaveUp)
    noVars = verdict(
      'IMG-NO-VARS',
      'PASS',
      `booted with a pristine variable store (${store.template}) to "${ready.line}" in ${seconds(o.stages.ready)} s`,
      { ...storeEvidence, ready: ready.line, pattern: ready.pattern },
    );
  else
    noVars = verdict(
      'IMG-NO-VARS',
      'FAIL',
      scan.gaveUp
        ? `the image did not boot with an empty variable store; the firmware says: ${firmwareSays}`
        : notReady,
      { ...storeEvidence, lastLines },
    );
  return [fwUefi, defaultBoot, noVars];
}

/** Notes when each stage first shows on the console, sampling it while the boot runs. */
function stageSampler(booted: BootedVm, stages: StageTimes, patterns: readonly RegExp[]): () => void {
  const sample = () => {
    const now = Date.now() - booted.startedAt;
    const scan = scanTranscript(booted.session.console.transcript(), patterns);
    if (scan.firstLine) stages.firstOutput ??= now;
    if (scan.banner) stages.firmware ??= now;
    if (scan.loader) stages.loader ??= now;
    if (scan.ready) stages.ready ??= now;
    if (scan.gaveUp) stages.gaveUp ??= now;
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return () => (clearInterval(timer), sample());
}

/** qcow2 by its magic, else raw: the VM reads the image, this suite does not parse it. */
function formatOf(path: string): ImageFormat {
  try {
    const fd = openSync(path, 'r');
    try {
      const magic = Buffer.alloc(4);
      readSync(fd, magic, 0, 4, 0);
      return magic.toString('latin1') === 'QFI\xfb' ? 'qcow2' : 'raw';
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'raw';
  }
}

async function run(ctx: SuiteContext): Promise<SuiteOutcome> {
  const image = { format: formatOf(ctx.imagePath), arch: ctx.arch };
  const patterns = readyPatterns(ctx.ready);
  const unstarted = (message: string): SuiteOutcome => ({
    verdicts: BOOT_CLAUSES.map((id) => verdict(id, 'ERROR', message, {})),
    image,
  });
  if (!ctx.vm) return unstarted(`target ${ctx.target.id} (kind ${ctx.target.kind}) gives this suite no VM`);
  let booted: BootedVm;
  try {
    booted = await ctx.vm.boot();
  } catch (err) {
    return unstarted(`the VM could not be started: ${(err as Error).message}`);
  }
  const stages: StageTimes = { vmStarted: Date.now() - booted.startedAt };
  const stop = stageSampler(booted, stages, patterns);
  let end: BootEnd;
  const onAbort = () => booted.session.close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await booted.session.console.expect(endPattern(patterns), BOOT_TIMEOUT_MS);
    end = { kind: 'matched' };
  } catch (err) {
    const e = err as Error;
    if (ctx.signal.aborted) end = { kind: 'aborted', message: 'the run was aborted' };
    else if (e.name === 'SessionTimeoutError') end = { kind: 'timeout', timeoutMs: BOOT_TIMEOUT_MS };
    else end = { kind: 'exited', message: e.message };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    stop();
  }
  const verdicts = judgeBoot({
    transcript: booted.session.console.transcript(),
    end,
    stages,
    variableStore: booted.variableStore,
    readyPatterns: patterns,
  });
  return { verdicts, image };
}

/** Boots a fresh instance with a pristine variable store and waits for the image to be ready. */
export const bootSuite: Suite = {
  id: BOOT_SUITE_ID,
  title: 'Boot from the removable-media path with an empty variable store',
  subject: 'vm',
  clauses: BOOT_CLAUSES,
  targetKinds: ['qemu'],
  run,
};
