import type { Cell, Image, Matrix, MatrixEntry, MatrixEvent, RunView } from './api';

export interface GridRow {
  sha256: string;
  label: string;
}

export interface Grid {
  rows: GridRow[];
  targets: string[];
  /** The runs of one image on one target, one per suite, sorted by suite. */
  cell(sha256: string, target: string): Cell[];
}

/** A short, stable label: the image's name and version when known, else its hash prefix. */
export function imageLabel(sha256: string, image: Image | undefined): string {
  if (!image) return sha256.slice(0, 12);
  const name = image.name || sha256.slice(0, 12);
  return image.version ? `${name} ${image.version}` : name;
}

/** Images × targets in the order the matrix was requested, each cell holding its suites' runs. */
export function buildGrid(matrix: Matrix, images: ReadonlyMap<string, Image>): Grid {
  const byCell = new Map<string, Cell[]>();
  for (const c of matrix.cells) {
    const key = `${c.image}\0${c.target}`;
    byCell.set(key, [...(byCell.get(key) ?? []), c]);
  }
  for (const cells of byCell.values()) cells.sort((a, b) => a.suite.localeCompare(b.suite));
  const present = (sha: string) => matrix.cells.some((c) => c.image === sha);
  const hasTarget = (t: string) => matrix.cells.some((c) => c.target === t);
  return {
    rows: matrix.request.images
      .filter(present)
      .map((sha256) => ({ sha256, label: imageLabel(sha256, images.get(sha256)) })),
    targets: matrix.request.targets.filter(hasTarget),
    cell: (sha256, target) => byCell.get(`${sha256}\0${target}`) ?? [],
  };
}

/** The clause IDs a run's verdicts judge FAIL (what a failed cell shows beside its letter). */
export function failingClauses(run: Pick<RunView, 'verdicts'>): string[] {
  return [...new Set(run.verdicts.filter((v) => v.verdict === 'FAIL').map((v) => v.clause))];
}

/** How far a cell has got: runs only move forward (queued, then running or retrying, then done). */
const progressOf = (c: Pick<Cell, 'state' | 'attempts'>): [number, number] => [
  c.state === 'done' ? 2 : c.state === 'queued' ? 0 : 1,
  c.attempts,
];

/** Whether `a` is further along than `b`: events and fetches may arrive out of order. */
function ahead(a: Pick<Cell, 'state' | 'attempts'>, b: Pick<Cell, 'state' | 'attempts'>): boolean {
  const [x, y] = [progressOf(a), progressOf(b)];
  return x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);
}

/** The matrix with these cells, its progress and state counted from them. */
function withCells(matrix: Matrix, cells: Cell[]): Matrix {
  const done = cells.filter((c) => c.state === 'done').length;
  return {
    ...matrix,
    cells,
    progress: { done, total: cells.length },
    state: done === cells.length ? 'done' : 'running',
  };
}

/**
 * A matrix with one run's new state folded in (a `run` event); progress follows the cells. A view
 * behind what the cell shows (an earlier change published late) is ignored.
 */
export function applyRun(matrix: Matrix, run: RunView): Matrix {
  const cell = matrix.cells.find((c) => c.runId === run.id);
  const update = {
    state: run.state,
    verdict: run.verdict,
    attempts: run.attempts.length,
    failing: failingClauses(run),
  };
  if (run.matrixId !== matrix.id || !cell || ahead(cell, update)) return matrix;
  return withCells(
    matrix,
    matrix.cells.map((c) => (c.runId === run.id ? { ...c, ...update } : c)),
  );
}

/**
 * A freshly fetched matrix merged with the one shown: each cell keeps whichever is further along.
 * A fetch answered after live events were folded in carries an older snapshot of those runs; taking
 * it whole would move cells back and, with no event left to come, leave the grid stale.
 */
export function newerCells(fresh: Matrix, shown: Matrix): Matrix {
  if (fresh.id !== shown.id) return fresh;
  const seen = new Map(shown.cells.map((c) => [c.runId, c]));
  return withCells(
    fresh,
    fresh.cells.map((c) => {
      const old = seen.get(c.runId);
      return old && ahead(old, c) ? old : c;
    }),
  );
}

/**
 * A `matrix` event: the server's count wins over ours (it may have seen runs we missed), unless it
 * counts fewer runs done than we know of (an earlier count published late).
 */
export function applyMatrixEvent(matrix: Matrix, event: MatrixEvent): Matrix {
  if (event.id !== matrix.id || event.done < matrix.progress.done) return matrix;
  return { ...matrix, state: event.state, progress: { done: event.done, total: event.total } };
}

/** A `matrix` event on the matrices list: its counts, unless it counts fewer runs done than shown. */
export function applySummaryEvent(entry: MatrixEntry, event: MatrixEvent): MatrixEntry {
  if (event.id !== entry.id || event.done < entry.progress.done) return entry;
  return {
    ...entry,
    state: event.state,
    progress: { done: event.done, total: event.total },
    counts: event.counts,
  };
}

export type VerdictCounts = Record<'PASS' | 'FAIL' | 'ERROR' | 'SKIP' | 'pending', number>;

export function countCells(cells: readonly Cell[]): VerdictCounts {
  const counts: VerdictCounts = { PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0, pending: 0 };
  for (const c of cells) counts[c.state === 'done' && c.verdict ? c.verdict : 'pending']++;
  return counts;
}
