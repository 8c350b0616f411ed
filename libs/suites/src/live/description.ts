import type { TargetProfile, VerdictRecord } from '@vmfarm/protocol';
import { TargetRefusedError } from '@vmfarm/session';
import type { Suite, SuiteContext } from '../suite';
import type { GuestReport } from './guest';
import { isReady, notReady, startInstance, type Instance } from './readiness';
import { runLive, verdictMaker, type Stages } from './stages';
import { readyPatterns } from './transcript';

export const DESCRIPTION_SUITE_ID = 'description';
const CLAUSES = ['HW-DESC', 'HW-ENUM', 'GUEST-DESC', 'PLAT-EXEC'] as const;
const v = verdictMaker(DESCRIPTION_SUITE_ID);

/** PCI vendor:device of what every qemu profile puts on the bus (virtio-blk legacy/modern, QEMU's root port). */
const VIRTIO_BLK = /^1af4:(1001|1042):01/;
const VIRTIO_CONSOLE = /^1af4:(1003|1043):/;
const ROOT_PORT = /^1b36:000c:/;
/** The kernel keeps some memory for itself: MemTotal is a little below what the VM has. */
const MIN_MEMORY_SHARE = 0.8;

export interface DescriptionBoot {
  /** `fdt`: the firmware publishes only the FDT; `acpi`: only ACPI tables. */
  mode: 'fdt' | 'acpi';
  i?: Instance;
  /** Why this boot was not tried (a target that cannot publish ACPI, such as a 32-bit one). */
  skipped?: string;
}

const pciList = (r: GuestReport) =>
  (r.pci ?? '')
    .split(',')
    .filter(Boolean)
    .map((d) => d.split('@')[1] ?? '');

/** Where the reference guest's view of the machine differs from the profile (empty: it matches). */
export function enumerationMismatches(target: TargetProfile, r: GuestReport): string[] {
  if (target.kind !== 'qemu') return [];
  const problems: string[] = [];
  if (Number(r.cpus) !== target.smp) problems.push(`cpus=${r.cpus}, the profile has ${target.smp}`);
  const memKiB = Number(r.mem_total_kb);
  const vmKiB = target.memoryMiB * 1024;
  if (!(memKiB > vmKiB * MIN_MEMORY_SHARE && memKiB <= vmKiB))
    problems.push(`MemTotal ${r.mem_total_kb} kB, the VM has ${vmKiB} kB`);
  const pci = pciList(r);
  if (!pci.some((d) => VIRTIO_BLK.test(d))) problems.push('no virtio-blk disk on PCI');
  const ports = pci.filter((d) => ROOT_PORT.test(d)).length;
  if (ports < target.hotplugPorts)
    problems.push(`${ports} PCIe root ports, the profile has ${target.hotplugPorts}`);
  if (target.console === 'virtio-console' && !pci.some((d) => VIRTIO_CONSOLE.test(d)))
    problems.push('no virtio-console device on PCI');
  if (target.console === 'pl011' && !/ttyAMA0/.test(r.console ?? ''))
    problems.push(`the kernel's consoles are ${r.console || 'none'}, not the PL011 (ttyAMA0)`);
  return problems;
}

/** What the reference guest found describing the machine in one boot. */
function described(b: DescriptionBoot): { ok: boolean; what: string } {
  const r = b.i?.report;
  if (!r) return { ok: true, what: `booted with ${b.mode === 'fdt' ? 'only the FDT' : 'only ACPI tables'}` };
  if (b.mode === 'fdt')
    return /fdt/.test(r.description ?? '')
      ? { ok: true, what: `FDT (compatible ${r.fdt_compatible ?? '?'})` }
      : { ok: false, what: `no FDT in the FDT-only boot (description=${r.description})` };
  const rsdp = /ACPI/.test(r.efi_config_tables ?? '');
  return /acpi/.test(r.description ?? '') && rsdp
    ? { ok: true, what: `ACPI tables ${r.acpi_tables ?? '?'} (RSDP in the UEFI configuration table)` }
    : {
        ok: false,
        what: `ACPI boot: description=${r.description}, configuration tables ${r.efi_config_tables ?? 'none'}`,
      };
}

/** Verdicts of the FDT-only boot and (where the target can) the ACPI-only boot. */
export function judgeDescription(target: TargetProfile, boots: readonly DescriptionBoot[]): VerdictRecord[] {
  const ran = boots.filter((b): b is DescriptionBoot & { i: Instance } => !!b.i);
  const evidence = {
    boots: boots.map((b) => ({
      mode: b.mode,
      skipped: b.skipped ?? null,
      ready: b.i?.scan.ready?.line ?? null,
      report: b.i?.report ?? null,
    })),
  };
  const skipped = boots.filter((b) => b.skipped).map((b) => `${b.mode} boot not tried: ${b.skipped}`);
  const note = skipped.length ? `; ${skipped.join('; ')}` : '';
  if (!ran.length) return CLAUSES.map((c) => v(c, 'SKIP', skipped.join('; '), evidence));
  const problems = ran.filter((b) => !isReady(b.i)).map((b) => notReady(b.i));
  const out: VerdictRecord[] = [];
  if (problems.length) {
    const verdict = problems.some((p) => p.verdict === 'ERROR') ? 'ERROR' : 'FAIL';
    const message = problems.map((p) => p.message).join('; ');
    const withProblems = { ...evidence, problems: problems.map((p) => p.evidence) };
    // The guest did not boot: GUEST-DESC fails; what the VM described cannot be read from it.
    out.push(
      v(
        'GUEST-DESC',
        verdict,
        `the guest did not boot from the hardware description alone: ${message}`,
        withProblems,
      ),
    );
    for (const c of ['HW-DESC', 'HW-ENUM', 'PLAT-EXEC'])
      out.push(v(c, verdict === 'FAIL' ? 'SKIP' : 'ERROR', `not judged: ${message}`, withProblems));
    return out;
  }
  const views = ran.map((b) => ({ b, ...described(b) }));
  const badDesc = views.filter((x) => !x.ok);
  out.push(
    badDesc.length
      ? v('HW-DESC', 'FAIL', badDesc.map((x) => x.what).join('; '), evidence)
      : v(
          'HW-DESC',
          'PASS',
          `${views.map((x) => `${x.b.mode} boot: ${x.what}`).join('; ')}${note}`,
          evidence,
        ),
  );
  out.push(
    v(
      'GUEST-DESC',
      'PASS',
      `the guest booted ${ran.map((b) => `${b.mode === 'fdt' ? 'from the FDT alone' : 'from ACPI alone'} ("${b.i.scan.ready!.line}")`).join(' and ')}${note}`,
      evidence,
    ),
  );
  const reports = ran.filter((b) => b.i.report);
  if (!reports.length) {
    const why =
      'the image offers no reference-guest report: the guest view of CPUs, memory and devices cannot be read';
    out.push(v('HW-ENUM', 'SKIP', why, evidence), v('PLAT-EXEC', 'SKIP', why, evidence));
    return out;
  }
  const mismatches = reports.flatMap((b) =>
    enumerationMismatches(target, b.i.report!).map((m) => `${b.mode} boot: ${m}`),
  );
  const first = reports[0].i.report!;
  out.push(
    mismatches.length
      ? v('HW-ENUM', 'FAIL', `the guest's view differs from the VM: ${mismatches.join('; ')}`, evidence)
      : v(
          'HW-ENUM',
          'PASS',
          `the guest found what the VM has: ${first.cpus} CPU(s), ${first.mem_total_kb} kB, ${pciList(first).length} PCI functions, consoles ${first.console}`,
          evidence,
        ),
  );
  const arches = reports.map((b) => b.i.report!.arch);
  const want = target.arch.map((a) => (a === 'aarch64' ? /^aarch64$/ : /^armv[78]/));
  out.push(
    arches.every((a) => want.some((w) => w.test(a ?? '')))
      ? v('PLAT-EXEC', 'PASS', `the vCPUs run the guest in the ${arches[0]} execution state`, evidence)
      : v(
          'PLAT-EXEC',
          'FAIL',
          `the guest runs as ${arches.join(', ')}; the target offers ${target.arch.join(', ')}`,
          evidence,
        ),
  );
  return out;
}

async function bootMode(ctx: SuiteContext, stages: Stages, mode: 'fdt' | 'acpi'): Promise<DescriptionBoot> {
  try {
    const i = await startInstance(
      stages,
      readyPatterns(ctx.ready),
      { acpi: mode === 'acpi' ? 'on' : 'off' },
      mode,
    );
    await i.session.close();
    return { mode, i };
  } catch (err) {
    // A boot the target refuses before starting (its driver says why), as opposed to one that broke.
    if (!(err instanceof TargetRefusedError)) throw err;
    return { mode, skipped: err.reasons.join('; ') };
  }
}

export const descriptionSuite: Suite = {
  id: DESCRIPTION_SUITE_ID,
  title: "Hardware description: FDT-only and ACPI-only boots; the guest's view matches the VM",
  typicalSeconds: 8,
  subject: 'vm',
  clauses: CLAUSES,
  targetKinds: ['qemu'],
  run: (ctx) =>
    runLive(ctx, DESCRIPTION_SUITE_ID, CLAUSES, async (out, stages) => {
      const boots = [await bootMode(ctx, stages, 'fdt'), await bootMode(ctx, stages, 'acpi')];
      out.push(...judgeDescription(ctx.target, boots));
    }),
};
