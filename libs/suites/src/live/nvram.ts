import { parseVariableStore, RawSource } from '@vmfarm/image';
import type { VerdictRecord } from '@vmfarm/protocol';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Suite } from '../suite';
import { command, FARM_READY } from './guest';
import { awaitReady, isReady, notReady, startInstance, type Instance } from './readiness';
import { runLive, verdictMaker, type Stages } from './stages';
import { readyPatterns, type LinePattern } from './transcript';

export const NVRAM_SUITE_ID = 'nvram';
const CLAUSES = ['FW-NVRAM', 'FW-NVRAM-INSTANCE'] as const;
const v = verdictMaker(NVRAM_SUITE_ID);
/** The farm's vendor GUID for its probe variable (last six bytes spell "vmfarm"). */
export const PROBE_GUID = '8c1f2a4e-5e1b-4a7d-9a3c-766d6661726d';
export const PROBE_NAME = 'VmfarmNvramProbe';

/** The ways an instance restarts that a non-volatile variable must survive, in the order tried. */
export const RESTARTS = ['guest reboot', 'reset', 'power cycle'] as const;
export type Restart = (typeof RESTARTS)[number];

/** What the host's copy of an instance's store shows: its variables, and the probe's value. */
export interface StoreView {
  variables: string[];
  probe: string | null;
  problems: string[];
}

export async function readStore(file: string): Promise<StoreView> {
  const src = await RawSource.open(file);
  try {
    const store = await parseVariableStore(src);
    const probe = store.variables.find((x) => x.name === PROBE_NAME && x.guid.toLowerCase() === PROBE_GUID);
    return {
      variables: store.variables.map((x) => `${x.name}-${x.vendor ?? x.guid}`),
      probe: probe ? probe.data.toString('hex') : null,
      problems: store.problems,
    };
  } finally {
    await src.close();
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** One check of the probe variable after a restart: what the guest read, what the host's store holds. */
export interface Survival {
  after: Restart;
  /** The guest's getvar answer (`data=…` or `not-found`), or why it could not be asked. */
  guest: string;
  survived: boolean;
  store: StoreView;
}

export interface NvramObservation {
  farm: boolean;
  /** The value written by the guest; absent when setvar failed or no command loop exists. */
  written?: string;
  setAnswer?: string;
  survivals: Survival[];
  /** Where the restarts stopped early: the guest did not come back. */
  stopped?: { after: Restart; verdict: 'ERROR' | 'FAIL'; message: string };
  second: {
    pristine: boolean;
    detail: string;
    /** The new instance's guest read of the probe (reference guest). */
    guest?: string;
    /** The new instance gave nothing to judge (no output, the VM died): why. */
    unusable?: string;
    store: StoreView;
  };
  image: { before: string; after: string };
}

/**
 * FW-NVRAM: the probe variable set by the guest survives a guest reboot, a reset and a power cycle
 * of the instance. FW-NVRAM-INSTANCE: a new instance starts from the pristine template and does not
 * see it, and the image file is unchanged (the store is never the image's).
 */
export function judgeNvram(o: NvramObservation): VerdictRecord[] {
  const evidence = { ...o };
  const out: VerdictRecord[] = [];
  if (!o.farm)
    out.push(
      v(
        'FW-NVRAM',
        'SKIP',
        'the image offers no command loop to set a variable from the guest; the instance store after boot is in the artifacts (vars.fd.gz)',
        evidence,
      ),
    );
  else if (o.written === undefined)
    out.push(
      v('FW-NVRAM', 'FAIL', `the guest could not set a non-volatile variable: ${o.setAnswer}`, evidence),
    );
  else {
    const lost = o.survivals.find((s) => !s.survived);
    if (lost)
      out.push(
        v(
          'FW-NVRAM',
          'FAIL',
          `${PROBE_NAME} (set to ${o.written} by the guest) was gone after the ${lost.after}: the guest read ${lost.guest}; the host's store holds ${lost.store.variables.length} variables, ${lost.store.probe === null ? 'not the probe' : `the probe = ${lost.store.probe}`}`,
          evidence,
        ),
      );
    else if (o.stopped)
      out.push(
        v('FW-NVRAM', o.stopped.verdict, `after the ${o.stopped.after}: ${o.stopped.message}`, evidence),
      );
    else
      out.push(
        v(
          'FW-NVRAM',
          'PASS',
          `${PROBE_NAME} = ${o.written}, set by the guest with NON_VOLATILE, survived ${o.survivals.map((s) => `the ${s.after}`).join(', ')}; the host's store holds it (${o.survivals.at(-1)!.store.variables.length} variables)`,
          evidence,
        ),
      );
  }

  const problems: string[] = [];
  if (o.image.before !== o.image.after)
    problems.push(`the image file changed (sha256 ${o.image.before} → ${o.image.after})`);
  if (o.second.store.probe !== null)
    problems.push(`the new instance's store holds ${PROBE_NAME} = ${o.second.store.probe}`);
  if (o.second.guest !== undefined && o.second.guest !== 'not-found')
    problems.push(`the guest of the new instance read ${PROBE_NAME}: ${o.second.guest}`);
  if (o.second.unusable)
    out.push(v('FW-NVRAM-INSTANCE', 'ERROR', `the new instance: ${o.second.unusable}`, evidence));
  else if (!o.second.pristine)
    out.push(
      v(
        'FW-NVRAM-INSTANCE',
        'ERROR',
        `the new instance's store was not pristine: ${o.second.detail}`,
        evidence,
      ),
    );
  else if (problems.length) out.push(v('FW-NVRAM-INSTANCE', 'FAIL', problems.join('; '), evidence));
  else
    out.push(
      v(
        'FW-NVRAM-INSTANCE',
        'PASS',
        `a new instance started from the template (${o.second.detail}) and ${o.second.guest !== undefined ? `its guest did not see ${PROBE_NAME}` : `its store holds no ${PROBE_NAME}`}; the image file is unchanged (sha256 ${o.image.after.slice(0, 12)}…)`,
        evidence,
      ),
    );
  return out;
}

const getAnswer = (rest: string) => /data=([0-9a-f]*)/.exec(rest)?.[1];

async function probeAfter(i: Instance, after: Restart, written: string): Promise<Survival> {
  const a = await command(i, `getvar ${PROBE_NAME} ${PROBE_GUID}`);
  const store = await readStore((await i.session.variables()).file);
  const data = a.ok ? getAnswer(a.rest) : undefined;
  return { after, guest: a.ok ? `data=${data}` : a.rest, survived: data === written, store };
}

/** Restarts the instance and waits for the reference guest again; returns why not, if it did not come back. */
async function restart(
  stages: Stages,
  patterns: readonly LinePattern[],
  i: Instance,
  how: Restart,
): Promise<NvramObservation['stopped'] | undefined> {
  await stages.run('act', how, async () => {
    if (how === 'guest reboot') await command(i, 'reboot');
    else if (how === 'reset') await i.session.reset();
    else await i.session.powerCycle();
  });
  const { end, line } = await awaitReady(stages, `after the ${how}`, i.session, patterns);
  if (end.kind === 'matched' && line === FARM_READY) return undefined;
  // The VM going away, hanging or the run aborting is the farm's; a guest that does not come back is not.
  const verdict =
    end.kind === 'timeout' || (end.kind === 'exited' && end.byGuest) || end.kind === 'matched'
      ? 'FAIL'
      : 'ERROR';
  const message =
    end.kind === 'matched'
      ? `the guest came back with "${line}" instead of VMFARM-READY`
      : end.kind === 'timeout'
        ? `the guest was not ready again within ${end.timeoutMs / 1000} s`
        : end.message;
  return { after: how, verdict, message };
}

export const nvramSuite: Suite = {
  id: NVRAM_SUITE_ID,
  title: 'NVRAM: a variable survives reboot, reset and power cycle; a new instance starts empty',
  typicalSeconds: 30,
  subject: 'vm',
  clauses: CLAUSES,
  targetKinds: ['qemu'],
  run: (ctx) =>
    runLive(ctx, NVRAM_SUITE_ID, CLAUSES, async (out, stages) => {
      const patterns = readyPatterns(ctx.ready);
      const before = await stages.run('observe', 'image sha256', () => sha256(ctx.imagePath));
      const first = await startInstance(stages, patterns, {}, 'instance 1');
      if (!isReady(first)) {
        const p = notReady(first);
        for (const c of CLAUSES)
          out.push(v(c, p.verdict === 'FAIL' ? 'SKIP' : 'ERROR', `not judged: ${p.message}`, p.evidence));
        return;
      }
      const o: Omit<NvramObservation, 'second' | 'image'> = { farm: first.farm, survivals: [] };
      if (first.farm) {
        const value = randomBytes(8).toString('hex');
        const set = await stages.run('act', 'setvar', () =>
          command(first, `setvar ${PROBE_NAME} ${PROBE_GUID} ${value}`),
        );
        o.setAnswer = set.line;
        if (set.ok) {
          o.written = value;
          for (const how of RESTARTS) {
            o.stopped = await restart(stages, patterns, first, how);
            if (o.stopped) break;
            const s = await stages.run('observe', `the probe after the ${how}`, () =>
              probeAfter(first, how, value),
            );
            o.survivals.push(s);
            if (!s.survived) break;
          }
        }
      }
      await first.session.close();

      const second = await startInstance(stages, patterns, {}, 'instance 2');
      const { secondGuest, store } = await stages.run('observe', 'the new instance', async () => ({
        secondGuest:
          second.farm && isReady(second)
            ? await command(second, `getvar ${PROBE_NAME} ${PROBE_GUID}`).then((a) =>
                a.ok ? `data=${getAnswer(a.rest)}` : a.rest,
              )
            : undefined,
        store: await readStore((await second.session.variables()).file),
      }));
      await second.session.close();
      const problem = isReady(second) ? undefined : notReady(second);
      out.push(
        ...judgeNvram({
          ...o,
          second: {
            pristine: second.booted.variableStore.pristine,
            detail: second.booted.variableStore.detail,
            ...(secondGuest === undefined ? {} : { guest: secondGuest }),
            ...(problem?.verdict === 'ERROR' ? { unusable: problem.message } : {}),
            store,
          },
          image: { before, after: await stages.run('observe', 'image sha256', () => sha256(ctx.imagePath)) },
        }),
      );
    }),
};
