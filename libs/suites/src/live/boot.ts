import type { Verdict, VerdictRecord } from '@vmfarm/protocol';
import type { BootedVm } from '@vmfarm/session';
import type { Suite } from '../suite';
import { imageChecks, type ImageChecks } from './blame';
import { startInstance, type BootEnd, type StageTimes } from './readiness';
import { runLive, verdictMaker } from './stages';
import {
  consoleLines,
  readyPatterns,
  scanTranscript,
  type LinePattern,
  type TranscriptScan,
} from './transcript';

export const BOOT_SUITE_ID = 'boot';
export const BOOT_CLAUSES = ['FW-UEFI', 'FW-DEFAULT-BOOT', 'IMG-NO-VARS'] as const;
export interface BootObservation {
  transcript: string;
  end: BootEnd;
  stages: StageTimes;
  variableStore: BootedVm['variableStore'];
  readyPatterns: readonly LinePattern[];
  /** What the image's static checks said (the agent runs them first), when known. */
  imageChecks?: ImageChecks;
}

const verdict = verdictMaker(BOOT_SUITE_ID);

const seconds = (ms: number | undefined) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));

/**
 * The verdicts of one boot, from what the console showed and how the wait ended. PASS: ready in
 * time. FAIL: the firmware said it could not boot the image (its words are the message), a fatal
 * line (a kernel panic, the firmware refusing the loader: the line is the evidence), or the guest
 * never got ready while the VM ran. ERROR: the VM printed nothing, hung, went away, or the run was
 * aborted (the farm's fault). A vm clause fails only on evidence against the VM: when the image
 * failed its static checks, the firmware's failure to boot it is not judged (SKIP).
 */
export function judgeBoot(o: BootObservation): VerdictRecord[] {
  const scan: TranscriptScan = scanTranscript(o.transcript, o.readyPatterns);
  const matched = [
    scan.banner,
    scan.loader,
    ...scan.firmwareWords,
    scan.gaveUp,
    scan.fatal?.line,
    scan.ready?.line,
  ].filter((l, i, all): l is string => l !== undefined && all.indexOf(l) === i);
  const lastLines = consoleLines(o.transcript).slice(-5);
  const common = { stagesMs: o.stages, matchedLines: matched };
  const all = (v: Verdict, message: string, extra: Record<string, unknown> = {}) =>
    BOOT_CLAUSES.map((id) => verdict(id, v, message, { ...common, ...extra }));

  if (o.end.kind === 'aborted') return all('ERROR', `not evaluated: ${o.end.message}`);
  if (!scan.firstLine) {
    const why =
      o.end.kind === 'exited' || o.end.kind === 'hung'
        ? o.end.message
        : `the VM printed nothing in ${seconds(o.end.kind === 'timeout' ? o.end.timeoutMs : undefined)} s`;
    return all('ERROR', `no console output from the VM: ${why}`, { lastLines });
  }
  // A VM that hangs or goes away says nothing of the image or of the firmware's boot manager.
  if (o.end.kind === 'hung')
    return all('ERROR', `the VM stopped running before the guest was ready: ${o.end.message}`, { lastLines });
  if (o.end.kind === 'exited' && !o.end.byGuest && !scan.ready)
    return all('ERROR', `the VM went away before the guest was ready: ${o.end.message.split(';')[0]}`, {
      lastLines,
    });

  const ready = scan.ready;
  const notReady =
    o.end.kind === 'exited'
      ? 'the guest powered the VM off before it was ready'
      : `the guest was not ready within ${seconds(o.end.kind === 'timeout' ? o.end.timeoutMs : undefined)} s (patterns ${o.readyPatterns.map(String).join(', ')})`;
  const refused = scan.fatal?.who === 'firmware' ? scan.fatal.line : undefined;
  const gaveUp = scan.gaveUp ?? refused;
  const firmwareSays = scan.firmwareWords.length ? scan.firmwareWords.join(' / ') : gaveUp;
  const imageFailed = o.imageChecks && !o.imageChecks.passed ? o.imageChecks.failed : undefined;
  const notJudged = (what: string) =>
    `not judged: the image failed ${imageFailed!.join(', ')} (static checks), so ${what} is the image's doing`;

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
  if (gaveUp && imageFailed)
    defaultBoot = verdict('FW-DEFAULT-BOOT', 'SKIP', notJudged(`"${firmwareSays}"`), {
      ...common,
      firmware: scan.firmwareWords,
      gaveUp,
    });
  else if (gaveUp)
    defaultBoot = verdict(
      'FW-DEFAULT-BOOT',
      'FAIL',
      `with an empty variable store the firmware could not boot the removable-media path: ${firmwareSays}`,
      { ...common, firmware: scan.firmwareWords, gaveUp },
    );
  else if (scan.loader || ready)
    defaultBoot = verdict(
      'FW-DEFAULT-BOOT',
      'PASS',
      `with an empty variable store the boot manager ran the image's loader: "${scan.loader ?? ready!.line}"`,
      { ...common, loader: scan.loader ?? null },
    );
  else if (imageFailed)
    defaultBoot = verdict('FW-DEFAULT-BOOT', 'SKIP', notJudged('a boot that started no loader'), {
      ...common,
      firmware: scan.firmwareWords,
      lastLines,
    });
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
  else if (scan.fatal)
    noVars = verdict(
      'IMG-NO-VARS',
      'FAIL',
      `the image did not boot with an empty variable store: ${scan.fatal.what}: "${scan.fatal.line}"`,
      { ...storeEvidence, fatal: scan.fatal.line, firmware: scan.firmwareWords, lastLines },
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

/** The boot suite's one instance: its boot and readiness stages, then the judgement. */
const run: Suite['run'] = (ctx) =>
  runLive(ctx, BOOT_SUITE_ID, BOOT_CLAUSES, async (out, stages) => {
    const patterns = readyPatterns(ctx.ready);
    let instance;
    try {
      instance = await startInstance(stages, patterns);
    } catch (err) {
      if (stages.signal.aborted) throw err;
      const message = `the VM could not be started: ${(err as Error).message}`;
      out.push(...BOOT_CLAUSES.map((id) => verdict(id, 'ERROR', message, {})));
      return;
    }
    const checks = imageChecks(ctx);
    const judged = await stages.run('judge', 'boot', () =>
      judgeBoot({
        transcript: instance.session.console.transcript(),
        end: instance.end,
        stages: instance.stages,
        variableStore: instance.booted.variableStore,
        readyPatterns: patterns,
        ...(checks ? { imageChecks: checks } : {}),
      }),
    );
    out.push(...judged);
  });

/** Boots a fresh instance with a pristine variable store and waits for the image to be ready. */
export const bootSuite: Suite = {
  id: BOOT_SUITE_ID,
  title: 'Boot from the removable-media path with an empty variable store',
  typicalSeconds: 3,
  subject: 'vm',
  clauses: BOOT_CLAUSES,
  targetKinds: ['qemu'],
  run,
};
