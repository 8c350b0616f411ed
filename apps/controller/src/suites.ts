import type { SuiteInfo } from '@vmfarm/protocol';
import { checkRegistry, SUITES, suiteInfo, type Suite } from '@vmfarm/suites';

/** The suites the controller plans with: their ids, clauses and target kinds (never their code). */
export interface SuiteCatalog {
  list(): readonly SuiteInfo[];
  get(id: string): SuiteInfo | undefined;
}

export const SUITE_CATALOG = Symbol('vmfarm.suites');

export function catalogOf(suites: readonly Suite[]): SuiteCatalog {
  const infos = suiteInfo(suites);
  const byId = new Map(infos.map((s) => [s.id, s]));
  return { list: () => infos, get: (id) => byId.get(id) };
}

/** The one place that reads the suite registry of @vmfarm/suites; checked against the clauses first. */
export function registryCatalog(): SuiteCatalog {
  checkRegistry(SUITES);
  return catalogOf(SUITES);
}
