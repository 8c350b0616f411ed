import { createColumnHelper } from '@tanstack/react-table';
import { useMemo } from 'react';
import { Link, useParams } from 'react-router';
import { api, matrixEventSchema, runViewSchema, type Image, type Matrix } from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, Legend, ProgressBar, RunBadge } from '../components/ui';
import { applyMatrixEvent, applyRun, buildGrid, countCells, newerCells, type GridRow } from '../grid';
import { useEvents, useLoad } from '../hooks';

/** Images the caller may list label the rows; without them rows show hash prefixes. */
async function imagesBySha(): Promise<Map<string, Image>> {
  const images = await api.images().catch(() => []);
  return new Map(images.map((i) => [i.sha256, i]));
}

export function MatrixPage() {
  const { id = '' } = useParams();
  const matrix = useLoad(`matrix:${id}`, () => api.matrix(id), newerCells);
  const images = useLoad('images', imagesBySha);
  // Live: every run change and progress of this matrix, pushed by the controller.
  useEvents(
    `/api/events?matrix=${encodeURIComponent(id)}`,
    {
      run: (data) => {
        const run = runViewSchema.safeParse(data);
        if (run.success) matrix.set((m) => m && applyRun(m, run.data));
      },
      matrix: (data) => {
        const event = matrixEventSchema.safeParse(data);
        if (event.success) matrix.set((m) => m && applyMatrixEvent(m, event.data));
      },
    },
    matrix.reload,
  );
  return (
    <section>
      <Async loaded={matrix}>{(m) => <MatrixView matrix={m} images={images.data ?? new Map()} />}</Async>
    </section>
  );
}

export function MatrixView({ matrix, images }: { matrix: Matrix; images: ReadonlyMap<string, Image> }) {
  const grid = useMemo(() => buildGrid(matrix, images), [matrix, images]);
  const counts = countCells(matrix.cells);
  const columns = useMemo(() => {
    const col = createColumnHelper<GridRow>();
    return [
      col.accessor('label', {
        header: 'Image',
        cell: (c) => (
          <Link to={`/certification/images/${c.row.original.sha256}`} title={c.row.original.sha256}>
            {c.getValue()}
          </Link>
        ),
      }),
      ...grid.targets.map((target) =>
        col.display({
          id: `target:${target}`,
          header: () => <Link to={`/certification/targets/${target}`}>{target}</Link>,
          cell: (c) => (
            <span className="cell" data-cell={`${c.row.original.label} × ${target}`}>
              {grid.cell(c.row.original.sha256, target).map((run) => (
                <Link key={run.runId} to={`/runs/${run.runId}`} className="cell-run">
                  <RunBadge state={run.state} verdict={run.verdict} prefix={run.suite} />
                </Link>
              ))}
            </span>
          ),
        }),
      ),
    ];
  }, [grid]);
  return (
    <>
      <h1>
        Matrix <span className="mono">{matrix.id}</span>
      </h1>
      <p className="muted">
        created {formatTime(matrix.createdAt)} · suites {matrix.request.suites.join(', ')} ·{' '}
        <span data-testid="matrix-state">{matrix.state}</span>
        {matrix.scheduleId ? (
          <>
            {' '}
            · schedule <Link to={`/schedules/${matrix.scheduleId}/regressions`}>{matrix.scheduleId}</Link>
          </>
        ) : null}
      </p>
      <ProgressBar done={matrix.progress.done} total={matrix.progress.total} />
      <p className="counts">
        PASS {counts.PASS} · FAIL {counts.FAIL} · ERROR {counts.ERROR} · SKIP {counts.SKIP} · pending{' '}
        {counts.pending}
      </p>
      <DataTable
        data={grid.rows}
        columns={columns}
        className="table grid"
        label="matrix grid"
        empty="No cells."
      />
      <Legend />
      <p className="no-print">
        <a href={`/api/matrices/${matrix.id}/report`}>JSON report</a> ·{' '}
        <a href={`/api/matrices/${matrix.id}/report?format=junit`}>JUnit XML</a>
      </p>
    </>
  );
}
