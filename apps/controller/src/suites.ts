import type { SuiteInfo, TargetProfile } from '@vmfarm/protocol';
import { checkRegistry, SUITES, suiteInfo, type Suite } from '@vmfarm/suites';

/** The suites the controller plans with: their ids, clauses and target kinds (never their code). */
export interface SuiteCatalog {
  list(): readonly SuiteInfo[];
  get(id: string): SuiteInfo | undefined;
  /** Why suite `id` cannot be planned on `target` at all (e.g. a GICv2 boot with more than 8 vCPUs). */
  refusal(id: string, target: TargetProfile): string | undefined;
  /** About how long one run of suite `id` takes on TCG, in seconds (0: quick or unknown). */
  typicalSeconds(id: string): number;
}

export const SUITE_CATALOG = Symbol('vmfarm.suites');

export function catalogOf(suites: readonly Suite[]): SuiteCatalog {
  const infos = suiteInfo(suites);
  const byId = new Map(infos.map((s) => [s.id, s]));
  const suiteById = new Map(suites.map((s) => [s.id, s]));
  return {
    list: () => infos,
    get: (id) => byId.get(id),
    refusal: (id, target) => suiteById.get(id)?.refuse?.(target),
    typicalSeconds: (id) => suiteById.get(id)?.typicalSeconds ?? 0,
  };
}

/** The one place that reads the suite registry of @vmfarm/suites; checked against the clauses first. */
export function registryCatalog(): SuiteCatalog {
  checkRegistry(SUITES);
  return catalogOf(SUITES);
}
