import type { TargetProfile, VerdictRecord } from '@vmfarm/protocol';
import type { PlatformFacts } from '@vmfarm/session';
import type { Suite } from '../suite';
import { isReady, notReady, startInstance, type Instance } from './readiness';
import { runLive, verdictMaker } from './stages';
import { readyPatterns } from './transcript';

export const GIC_SUITE_ID = 'gic';
const CLAUSES = ['PLAT-GIC', 'GUEST-GIC'] as const;
const v = verdictMaker(GIC_SUITE_ID);
/** A GICv2 distributor addresses at most 8 CPU interfaces. */
export const GICV2_MAX_VCPUS = 8;
const VERSIONS = [3, 2] as const;
type Gic = (typeof VERSIONS)[number];

/** Planned boots this target cannot have: the GICv2 boot of a profile with more than 8 vCPUs. */
export function refuseGic(target: TargetProfile): string | undefined {
  if (target.kind === 'qemu' && target.smp > GICV2_MAX_VCPUS)
    return `suite gic boots target ${target.id} on GICv2, which serves at most ${GICV2_MAX_VCPUS} vCPUs; the profile has ${target.smp} (run it on a profile with smp <= ${GICV2_MAX_VCPUS})`;
  return undefined;
}

interface GicBoot {
  gic: Gic;
  i: Instance;
}

/** The guest's view of one boot: ready, and (reference guest) the GIC version it found. */
function guestOn(b: GicBoot): { ok: boolean; why: string; seen: string | null } {
  const seen = b.i.report?.gic ?? null;
  if (!isReady(b.i)) return { ok: false, why: notReady(b.i).message, seen };
  if (seen && seen !== `v${b.gic}`)
    return { ok: false, why: `on GICv${b.gic} the guest reports gic=${seen}`, seen };
  return {
    ok: true,
    why: `ready on GICv${b.gic} ("${b.i.scan.ready!.line}"${seen ? `, gic=${seen}` : ''})`,
    seen,
  };
}

/**
 * PLAT-GIC: the VM's interrupt controller is GICv2 or newer (the host side says which, the reference
 * guest confirms). GUEST-GIC: the guest boots on GICv3 and on GICv2; a version this host cannot give
 * a VM is SKIP with the reason.
 */
export function judgeGic(platform: PlatformFacts, boots: readonly GicBoot[]): VerdictRecord[] {
  const out: VerdictRecord[] = [];
  const own = boots[0];
  const evidence = {
    platform: platform.gic,
    machine: platform.evidence.machine,
    'query-gic-capabilities': platform.evidence['query-gic-capabilities'],
    boots: boots.map((b) => ({
      gic: b.gic,
      ready: b.i.scan.ready?.line ?? null,
      guestGic: b.i.report?.gic ?? null,
    })),
  };
  const ownView = guestOn(own);
  if (own.i.report && own.i.report.gic !== `v${own.gic}`)
    out.push(
      v(
        'PLAT-GIC',
        'FAIL',
        `the VM is configured with GICv${own.gic} but the guest found ${own.i.report.gic ?? 'none'} in /proc/interrupts`,
        evidence,
      ),
    );
  else if (!isReady(own.i) && notReady(own.i).verdict === 'ERROR') {
    const p = notReady(own.i);
    out.push(v('PLAT-GIC', 'ERROR', p.message, { ...evidence, ...p.evidence }));
  } else
    out.push(
      v(
        'PLAT-GIC',
        'PASS',
        `the VM has a GICv${own.gic} (${platform.evidence.machine}); this host can give a VM GICv${platform.gic.available.join(' and v') || ' none'}${ownView.seen ? `; the guest sees ${ownView.seen}` : ''}`,
        evidence,
      ),
    );

  const missing = VERSIONS.filter((g) => !boots.some((b) => b.gic === g));
  const views = boots.map((b) => ({ gic: b.gic, ...guestOn(b) }));
  const bad = views.filter((x) => !x.ok);
  if (bad.length) {
    const problems = boots.filter((b) => !guestOn(b).ok && !isReady(b.i)).map((b) => notReady(b.i));
    const verdict = problems.some((p) => p.verdict === 'ERROR') ? 'ERROR' : 'FAIL';
    out.push(
      v(
        'GUEST-GIC',
        verdict,
        `the guest did not boot on ${bad.map((x) => `GICv${x.gic}: ${x.why}`).join('; ')}`,
        { ...evidence, problems: problems.map((p) => p.evidence) },
      ),
    );
  } else if (missing.length)
    out.push(
      v(
        'GUEST-GIC',
        missing.includes(2) ? 'SKIP' : 'PASS',
        `${views.map((x) => x.why).join('; ')}; this host cannot give a VM GICv${missing.join(' or v')} with ${platform.accel} (query-gic-capabilities), so that boot was not tried`,
        evidence,
      ),
    );
  else out.push(v('GUEST-GIC', 'PASS', views.map((x) => x.why).join('; '), evidence));
  return out;
}

export const gicSuite: Suite = {
  id: GIC_SUITE_ID,
  title: 'GIC: GICv2 or newer; the guest boots on GICv3 and falls back to GICv2',
  typicalSeconds: 11,
  subject: 'vm',
  clauses: CLAUSES,
  targetKinds: ['qemu'],
  refuse: refuseGic,
  run: (ctx) =>
    runLive(ctx, GIC_SUITE_ID, CLAUSES, async (out, stages) => {
      const patterns = readyPatterns(ctx.ready);
      const own = await startInstance(stages, patterns, {}, 'profile');
      const platform = await stages.run('observe', 'platform', () => own.session.platform());
      await own.session.close();
      const boots: GicBoot[] = [{ gic: platform.gic.version, i: own }];
      for (const gic of VERSIONS) {
        if (gic === platform.gic.version || !platform.gic.available.includes(gic)) continue;
        const i = await startInstance(stages, patterns, { gic }, `gic=${gic}`);
        await i.session.close();
        boots.push({ gic, i });
      }
      out.push(...judgeGic(platform, boots));
    }),
};
