import type { VerdictRecord } from '@vmfarm/protocol';
import type { VmOverrides } from '@vmfarm/session';
import type { Suite, SuiteContext } from '../suite';
import { isReady, notReady, startInstance, type Instance } from './readiness';
import { runLive, verdictMaker } from './stages';
import { readyPatterns } from './transcript';

export const CONSOLE_SUITE_ID = 'console';
const CLAUSES = ['PLAT-CONSOLE', 'GUEST-CONSOLE'] as const;
const v = verdictMaker(CONSOLE_SUITE_ID);
/** The console kinds a target driver can give a VM (the Xen PV console comes with the Xen driver). */
const CONSOLES = ['pl011', 'virtio-console'] as const;
type ConsoleKind = (typeof CONSOLES)[number];

const profileConsole = (ctx: SuiteContext): ConsoleKind =>
  ctx.target.kind === 'qemu' ? ctx.target.console : 'pl011';

/** What one boot showed on the console it was given. */
function seen(i: Instance, kind: ConsoleKind) {
  return {
    console: kind,
    firstLine: i.scan.firstLine ?? null,
    banner: i.scan.banner ?? null,
    ready: i.scan.ready?.line ?? null,
    guestConsoles: i.report?.console ?? null,
    stagesMs: i.stages,
  };
}

/**
 * PLAT-CONSOLE on the profile's own console: the firmware's and the guest's output reach it.
 * GUEST-CONSOLE: the guest gets to its readiness line on every console kind the driver offers.
 */
export async function judgeConsoles(
  ctx: SuiteContext,
  boot: (overrides: VmOverrides, label: string) => Promise<Instance>,
): Promise<VerdictRecord[]> {
  const own = profileConsole(ctx);
  const kinds = [own, ...CONSOLES.filter((k) => k !== own)];
  const boots: { kind: ConsoleKind; i: Instance }[] = [];
  for (const kind of kinds) {
    const i = await boot(kind === own ? {} : { console: kind }, `console=${kind}`);
    // One VM at a time: TCG wants a host core per VM.
    await i.session.close();
    boots.push({ kind, i });
  }

  const out: VerdictRecord[] = [];
  const first = boots[0].i;
  if (first.scan.firstLine)
    out.push(
      v(
        'PLAT-CONSOLE',
        'PASS',
        `the VM's ${own} console carried ${first.scan.banner ? `the firmware's banner ("${first.scan.banner}")` : `output ("${first.scan.firstLine}")`}${first.scan.ready ? ` and the guest's "${first.scan.ready.line}"` : ''}`,
        seen(first, own),
      ),
    );
  else {
    const problem = notReady(first);
    out.push(v('PLAT-CONSOLE', problem.verdict, problem.message, { ...problem.evidence, console: own }));
  }

  const failed = boots.filter((b) => !isReady(b.i));
  const evidence = { boots: boots.map((b) => seen(b.i, b.kind)) };
  if (!failed.length)
    out.push(
      v(
        'GUEST-CONSOLE',
        'PASS',
        `the guest reached its readiness line on ${boots.map((b) => `${b.kind} ("${b.i.scan.ready!.line}"${b.i.report?.console ? `, kernel consoles ${b.i.report.console}` : ''})`).join(' and ')}`,
        evidence,
      ),
    );
  else {
    const problems = failed.map((b) => notReady(b.i));
    const verdict = problems.some((p) => p.verdict === 'ERROR') ? 'ERROR' : 'FAIL';
    out.push(
      v(
        'GUEST-CONSOLE',
        verdict,
        `the guest's console did not work on ${failed.map((b) => b.kind).join(', ')}: ${problems.map((p) => p.message).join('; ')}`,
        { ...evidence, problems: problems.map((p) => p.evidence) },
      ),
    );
  }
  return out;
}

export const consoleSuite: Suite = {
  id: CONSOLE_SUITE_ID,
  title: "Console: the VM's console carries output; the guest works on PL011 and virtio-console",
  typicalSeconds: 12,
  subject: 'vm',
  clauses: CLAUSES,
  targetKinds: ['qemu'],
  run: (ctx) =>
    runLive(ctx, CONSOLE_SUITE_ID, CLAUSES, async (out, stages) => {
      const patterns = readyPatterns(ctx.ready);
      out.push(...(await judgeConsoles(ctx, (o, label) => startInstance(stages, patterns, o, label))));
    }),
};
