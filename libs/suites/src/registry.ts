import { CLAUSES, isClauseId, clause, type Clause, type SuiteInfo, type TargetKind } from '@vmfarm/protocol';
import { bootSuite } from './live/boot';
import { consoleSuite } from './live/console';
import { descriptionSuite } from './live/description';
import { gicSuite } from './live/gic';
import { hotplugSuite } from './live/hotplug';
import { nvramSuite } from './live/nvram';
import { timerSuite } from './live/timer';
import { staticSuite } from './static';
import type { Suite } from './suite';

/** Every suite of the farm, registered here and nowhere else. */
export const SUITES: readonly Suite[] = [
  staticSuite,
  bootSuite,
  consoleSuite,
  gicSuite,
  descriptionSuite,
  timerSuite,
  hotplugSuite,
  nvramSuite,
];

export function getSuite(id: string): Suite {
  const found = SUITES.find((s) => s.id === id);
  if (!found) throw new Error(`unknown suite '${id}' (known: ${SUITES.map((s) => s.id).join(', ')})`);
  return found;
}

export function suitesForTarget(kind: TargetKind): Suite[] {
  return SUITES.filter((s) => s.targetKinds.includes(kind));
}

export function suiteInfo(suites: readonly Suite[] = SUITES): SuiteInfo[] {
  return suites.map((s) => ({
    id: s.id,
    title: s.title,
    subject: s.subject,
    clauses: [...s.clauses],
    targetKinds: [...s.targetKinds],
  }));
}

/**
 * A static suite cites image clauses only. A live suite judges the VM and the guest of one boot
 * together (a guest clause needs a working VM and the reverse), and may judge the image it boots.
 */
function mayCite(suite: Suite['subject'], subject: Clause['subject']): boolean {
  return suite === 'image' ? subject === 'image' : true;
}

/**
 * Verifies the registry against the clause catalogue: every cited clause exists and has the suite's
 * subject (a static suite: image clauses only), no suite id or clause is listed twice. Throws listing every problem; returns the clauses
 * no suite covers yet.
 */
export function checkRegistry(suites: readonly Suite[] = SUITES): Clause[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const covered = new Set<string>();
  for (const s of suites) {
    if (ids.has(s.id)) problems.push(`suite id '${s.id}' is registered twice`);
    ids.add(s.id);
    const own = new Set<string>();
    for (const id of s.clauses) {
      if (!isClauseId(id)) problems.push(`suite '${s.id}' cites unknown clause ${id}`);
      else if (!mayCite(s.subject, clause(id).subject))
        problems.push(
          `suite '${s.id}' (subject ${s.subject}) cites ${id}, a clause about the ${clause(id).subject}`,
        );
      if (own.has(id)) problems.push(`suite '${s.id}' lists clause ${id} twice`);
      own.add(id);
      covered.add(id);
    }
  }
  if (problems.length) throw new Error(`suite registry: ${problems.join('; ')}`);
  return CLAUSES.filter((c) => !covered.has(c.id));
}
