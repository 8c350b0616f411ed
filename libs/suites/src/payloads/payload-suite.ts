import {
  payloadRuleId,
  type PayloadManifest,
  type TargetProfile,
  type VerdictRecord,
} from '@vmfarm/protocol';
import { SessionTimeoutError, TargetRefusedError, VmExitedError, type VmOverrides } from '@vmfarm/session';
import { runLive } from '../live/stages';
import type { Suite, SuiteContext } from '../suite';
import { parseAcsLog, type AcsLog } from './acs-log';
import { acsVerdicts, countAcs } from './acs-verdicts';
import { PAYLOAD_END } from './payload-disk';

/** A payload as a run gets it: its manifest and content hash (the disk is the run's image). */
export interface PayloadRef {
  manifest: PayloadManifest;
  sha256: string;
}

/** What ends a payload's run early: the firmware's report of an exception taken in the payload. */
const CRASH = /Synchronous Exception at 0x[0-9A-Fa-f]+/;
/** The Shell's countdown before startup.nsh (its words are plain; colour codes surround ESC and the file name). */
const SHELL_COUNTDOWN = 'or any other key to continue';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Why `target` cannot run the payload at all (checked when a matrix is planned). */
export function refusePayload(manifest: PayloadManifest, target: TargetProfile): string | undefined {
  if (!target.arch.includes(manifest.arch))
    return `${manifest.name} ${manifest.version} is an ${manifest.arch} UEFI application; target ${target.id} runs ${target.arch.join(', ')}`;
  if (target.kind === 'static') return `${manifest.name} runs in a VM; target ${target.id} is static`;
  return undefined;
}

/** The boot the payload needs: ACPI on for a payload that reads ACPI tables, the rest as the profile says. */
function overridesFor(manifest: PayloadManifest): VmOverrides {
  if (manifest.description === 'acpi') return { acpi: 'on' };
  if (manifest.description === 'fdt') return { acpi: 'off' };
  return {};
}

/**
 * A payload as a suite (issue 13): boots the run's image (the payload's disk: the Shell at the
 * removable path, the payload and startup.nsh beside it) on the target through the VM-session
 * API, so it runs unchanged on every target; lets the Shell run startup.nsh; waits for the
 * payload to finish within its time limit; and turns every rule of its log into a verdict. A
 * payload that hangs, crashes or takes the VM down gives ERROR for the rules it did not finish,
 * the log so far being the evidence (and the console artifact).
 */
export function payloadSuite(ref: PayloadRef): Suite {
  const { manifest } = ref;
  const runRule = payloadRuleId(manifest.namespace, 'RUN');
  return {
    id: manifest.name,
    title: manifest.title ?? `${manifest.name} ${manifest.version}`,
    subject: 'vm',
    clauses: [],
    targetKinds: ['qemu'],
    refuse: (target) => refusePayload(manifest, target),
    run: (ctx) =>
      runLive(ctx, manifest.name, [runRule], async (out, stages) => {
        const refused = refusePayload(manifest, ctx.target);
        if (refused) {
          out.push(verdict(ref, 'RUN', 'SKIP', `not run: ${refused}`));
          return;
        }
        const overrides = overridesFor(manifest);
        let booted;
        try {
          booted = await stages.boot(overrides, `${manifest.name} disk`);
        } catch (err) {
          if (!(err instanceof TargetRefusedError)) throw err;
          out.push(
            verdict(ref, 'RUN', 'SKIP', `not run: the target cannot give this boot: ${err.message}`, {
              overrides,
            }),
          );
          return;
        }
        const { session, startedAt } = booted;
        // The Shell counts down 5 s before startup.nsh: any key but ESC goes on at once.
        const shellAt = await stages.run('ready', 'UEFI Shell', async ({ deadlineMs }) => {
          await session.console.expect(SHELL_COUNTDOWN, deadlineMs);
          session.console.send(' ');
          return Date.now() - startedAt;
        });
        const limitMs = manifest.timeLimitSeconds * 1000;
        const waitFrom = Date.now();
        let cutShort: string | undefined;
        try {
          const end = await session.console.expect(
            new RegExp(`${escape(PAYLOAD_END)}|${CRASH.source}`),
            limitMs,
          );
          if (CRASH.test(end.text)) cutShort = `the payload crashed (${end.text})`;
        } catch (err) {
          if (err instanceof SessionTimeoutError)
            cutShort = `the payload's time limit of ${manifest.timeLimitSeconds} s ran out`;
          else if (err instanceof VmExitedError) cutShort = `the VM stopped: ${err.message}`;
          else throw err;
        }
        const payloadMs = Date.now() - waitFrom;
        const transcript = session.console.transcript();
        await session.close();
        const log = parseAcsLog(transcript, manifest.endMarker);
        if (!cutShort && !log.complete) cutShort = `the payload returned to the Shell without its end marker`;
        out.push(
          ...withRun(acsVerdicts(log, { ...ref, ...(cutShort ? { cutShort } : {}) }), log, ref, ctx, {
            overrides,
            shellMs: shellAt,
            payloadMs,
            ...(cutShort ? { cutShort } : {}),
          }),
        );
      }),
  };
}

function verdict(
  ref: PayloadRef,
  rule: string,
  v: VerdictRecord['verdict'],
  message: string,
  evidence: Record<string, unknown> = {},
): VerdictRecord {
  const { manifest, sha256 } = ref;
  return {
    suite: manifest.name,
    clause: payloadRuleId(manifest.namespace, rule),
    level: 'MUST',
    verdict: v,
    message,
    evidence: { payload: { name: manifest.name, version: manifest.version, sha256 }, ...evidence },
  };
}

/**
 * Adds the run's facts to each verdict (the log's own summary, the farm's counts of it, timings),
 * and an ERROR when a complete log's summary disagrees with the rules the farm read.
 */
function withRun(
  verdicts: VerdictRecord[],
  log: AcsLog,
  ref: PayloadRef,
  ctx: SuiteContext,
  facts: Record<string, unknown>,
): VerdictRecord[] {
  const counts = countAcs(log);
  const run = {
    target: ctx.target.id,
    complete: log.complete,
    acsSummary: log.summary,
    counted: counts,
    ...facts,
  };
  const out: VerdictRecord[] = verdicts.map((v) => ({ ...v, evidence: { ...v.evidence, run } }));
  if (log.complete && log.summary) {
    const differ = Object.entries(counts).filter(
      ([k, n]) =>
        log.summary![k as keyof typeof counts] !== undefined && log.summary![k as keyof typeof counts] !== n,
    );
    if (differ.length)
      out.push(
        verdict(
          ref,
          'SUMMARY',
          'ERROR',
          `the ACS Summary disagrees with the rules the farm read: ${differ.map(([k, n]) => `${k} ${log.summary![k as keyof typeof counts]} in the summary, ${n} read`).join('; ')}`,
          { run },
        ),
      );
  }
  return out;
}
