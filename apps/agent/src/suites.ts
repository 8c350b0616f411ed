import { SUITES, type Suite } from '@vmfarm/suites';

/** The one place that reads the suite registry of @vmfarm/suites. */
export function findSuite(id: string): Suite | undefined {
  return SUITES.find((s) => s.id === id);
}
