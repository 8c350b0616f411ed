import type { Verdict, VerdictRecord } from '@vmfarm/protocol';
import type { BootedVm } from '@vmfarm/session';
import type { Suite, SuiteContext, SuiteOutcome } from '../suite';
import {
  imageOf,
  startInstance,
  verdictMaker,
  type BootEnd,
  type Instance,
  type StageTimes,
} from './instance';
import { consoleLines, readyPatterns, scanTranscript, type TranscriptScan } from './transcript';

export const BOOT_SUITE_ID = 'boot';
export const BOOT_CLAUSES = ['FW-UEFI', 'FW-DEFAULT-BOOT', 'IMG-NO-VARS'] as const;
export interface BootObservation {
  transcript: string;
  end: BootEnd;
  stages: StageTimes;
  variableStore: BootedVm['variableStore'];
  readyPatterns: readonly RegExp[];
}

const verdict = verdictMaker(BOOT_SUITE_ID);

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

async function run(ctx: SuiteContext): Promise<SuiteOutcome> {
  const image = imageOf(ctx);
  const patterns = readyPatterns(ctx.ready);
  let instance: Instance;
  try {
    instance = await startInstance(ctx, patterns);
  } catch (err) {
    const message = `the VM could not be started: ${(err as Error).message}`;
    return { verdicts: BOOT_CLAUSES.map((id) => verdict(id, 'ERROR', message, {})), image };
  }
  const verdicts = judgeBoot({
    transcript: instance.session.console.transcript(),
    end: instance.end,
    stages: instance.stages,
    variableStore: instance.booted.variableStore,
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
