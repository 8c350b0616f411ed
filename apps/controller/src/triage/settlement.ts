import type { FlakyCell, TriagedRegressions, Verdict } from '@vmfarm/protocol';

/** A run of a matrix as settlement sees it. */
export interface SettlementRun {
  id: string;
  /** The run this one re-runs; null for a run of the original plan. */
  retryOf: string | null;
  verdict: Verdict | null;
  imageName: string;
  targetId: string;
  suite: string;
}

/** How many re-runs stand behind a run: 0 for a run of the plan, 1 for its first retry… */
export function retryDepth(runId: string, byId: ReadonlyMap<string, Pick<SettlementRun, 'retryOf'>>): number {
  let depth = 0;
  for (let r = byId.get(runId); r?.retryOf; r = byId.get(r.retryOf)) depth++;
  return depth;
}

/**
 * The runs to re-run before regressions are reported: those behind a PASS → FAIL that no known
 * issue explains, or a PASS → ERROR, that have been re-run fewer than `retries` times.
 */
export function runsToRetry(
  comparison: Pick<TriagedRegressions, 'regressions' | 'errors'>,
  runs: readonly SettlementRun[],
  retries: number,
): string[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const ids = new Set([...comparison.regressions, ...comparison.errors].map((c) => c.runId));
  return [...ids].filter((id) => byId.has(id) && retryDepth(id, byId) < retries).sort();
}

/** Retries that passed where the run they re-ran failed or errored: flaky cells, not regressions. */
export function flakyCells(runs: readonly SettlementRun[]): FlakyCell[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const superseded = new Set(runs.flatMap((r) => (r.retryOf ? [r.retryOf] : [])));
  return runs
    .filter((r) => r.retryOf !== null && !superseded.has(r.id) && r.verdict === 'PASS')
    .flatMap((r) => {
      const retried = byId.get(r.retryOf!);
      if (!retried || (retried.verdict !== 'FAIL' && retried.verdict !== 'ERROR')) return [];
      return [
        {
          imageName: r.imageName,
          targetId: r.targetId,
          suite: r.suite,
          before: retried.verdict,
          retriedRunId: retried.id,
          runId: r.id,
        },
      ];
    })
    .sort((a, b) => a.runId.localeCompare(b.runId));
}
