import type { VerdictRecord } from '@vmfarm/protocol';
import type { Suite } from '../suite';
import { freshReport, type GuestReport } from './guest';
import { isReady, notReady, startInstance } from './readiness';
import { runLive, verdictMaker } from './stages';
import { readyPatterns } from './transcript';

export const TIMER_SUITE_ID = 'timer';
const CLAUSES = ['PLAT-TIMER'] as const;
const v = verdictMaker(TIMER_SUITE_ID);
/** Long enough for a 100 Hz or 250 Hz tick to count dozens of interrupts on any guest. */
const TICK_WAIT_MS = 2000;

const TIMER_COMPATIBLE = /arm,armv[78]-timer/;

/**
 * PLAT-TIMER from two reports of the reference guest: the timer is described (FDT node
 * arm,armv8-timer / arm,armv7-timer, or the ACPI GTDT), the kernel uses it (arch_timer interrupts,
 * the arch_sys_counter clocksource, the virtual counter), and it ticks (interrupts grow between the two).
 */
export function judgeTimer(first: GuestReport, second: GuestReport): VerdictRecord {
  const evidence = {
    first: pick(first),
    second: pick(second),
  };
  const problems: string[] = [];
  const fdt = TIMER_COMPATIBLE.test(first.timer_compatible ?? '');
  const gtdt = (first.acpi_tables ?? '').split(',').includes('GTDT');
  if (!fdt && !gtdt)
    problems.push(
      `not described: no arm,armv8-timer/armv7-timer FDT node (${first.timer_compatible ?? 'none'}) and no ACPI GTDT (tables ${first.acpi_tables ?? 'none'})`,
    );
  if (first.timer !== 'arch_timer')
    problems.push(`the kernel did not bind the generic timer (timer=${first.timer})`);
  const before = Number(first.timer_irqs);
  const after = Number(second.timer_irqs);
  if (!(after > before))
    problems.push(`not ticking: arch_timer interrupts ${first.timer_irqs} then ${second.timer_irqs}`);
  if (problems.length) return v('PLAT-TIMER', 'FAIL', problems.join('; '), evidence);
  const counter = first.timer_counter ? `${first.timer_counter} counter` : 'counter';
  return v(
    'PLAT-TIMER',
    'PASS',
    `the generic timer is described (${fdt ? `FDT ${first.timer_compatible}` : 'ACPI GTDT'}), runs at ${first.timer_freq_mhz ?? '?'} MHz on the ${counter} (clocksource ${first.clocksource ?? '?'}), and ticked: ${before} then ${after} interrupts`,
    evidence,
  );
}

function pick(r: GuestReport) {
  const keys = [
    'timer',
    'timer_freq_mhz',
    'timer_counter',
    'timer_compatible',
    'clocksource',
    'timer_irqs',
    'acpi_tables',
    'uptime_s',
  ];
  return Object.fromEntries(keys.filter((k) => k in r).map((k) => [k, r[k]]));
}

export const timerSuite: Suite = {
  id: TIMER_SUITE_ID,
  title: 'Generic timer: described to the guest and ticking',
  typicalSeconds: 5,
  subject: 'vm',
  clauses: CLAUSES,
  targetKinds: ['qemu'],
  run: (ctx) =>
    runLive(ctx, TIMER_SUITE_ID, CLAUSES, async (out, stages) => {
      const i = await startInstance(stages, readyPatterns(ctx.ready));
      if (!isReady(i)) {
        const p = notReady(i);
        out.push(
          v('PLAT-TIMER', p.verdict === 'FAIL' ? 'SKIP' : 'ERROR', `not judged: ${p.message}`, p.evidence),
        );
        return;
      }
      if (!i.farm || !i.report) {
        out.push(
          v(
            'PLAT-TIMER',
            'SKIP',
            `the image offers no reference-guest report ("${i.scan.ready!.line}" was its readiness line): the guest's view of the timer cannot be read`,
          ),
        );
        return;
      }
      const first = i.report;
      const second = await stages.run('act', 'two reports, 2 s apart', async () => {
        await new Promise((r) => setTimeout(r, TICK_WAIT_MS));
        return freshReport(i);
      });
      out.push(await stages.run('judge', 'timer', () => judgeTimer(first, second)));
    }),
};
