import type { CellTriage, MatrixTriage } from '@vmfarm/protocol';
import type { Cell } from './api';
import { runMark, type Mark } from './verdicts';

/**
 * What a run shows in the grid once triage is known: a FAIL every failing clause of which a known
 * issue explains is "FAIL (known: title)", still a FAIL; a retry that passed is flaky; a run a retry
 * replaced is shown as retried.
 */
export function triagedMark(cell: Pick<Cell, 'state' | 'verdict'>, triage: CellTriage | undefined): Mark {
  const mark = runMark(cell.state, cell.verdict);
  if (!triage || cell.state !== 'done') return mark;
  if (cell.verdict === 'FAIL' && triage.known.length > 0 && triage.unexplained.length === 0) {
    const titles = [...new Set(triage.known.flatMap((k) => k.issues.map((i) => i.title)))];
    return { ...mark, word: `FAIL (known: ${titles.join('; ')})`, tone: 'known' };
  }
  if (triage.flaky) return { ...mark, word: `${mark.word} (flaky)` };
  if (triage.supersededBy) return { ...mark, word: `${mark.word} (retried)`, tone: 'none' };
  return mark;
}

export function triageByRun(triage: MatrixTriage | undefined): Map<string, CellTriage> {
  return new Map((triage?.cells ?? []).map((c) => [c.runId, c]));
}

/** Runs whose FAIL known issues explain, counted apart from the other FAILs. */
export function countKnown(
  cells: readonly Pick<Cell, 'runId' | 'state' | 'verdict'>[],
  byRun: ReadonlyMap<string, CellTriage>,
): number {
  return cells.filter((c) => triagedMark(c, byRun.get(c.runId)).tone === 'known').length;
}
