import { createColumnHelper } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router';
import {
  api,
  eventsUrl,
  fetchImages,
  matrixEventSchema,
  runViewSchema,
  type Image,
  type Matrix,
} from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { useAuth } from '../auth';
import { Async, ErrorBox, Legend, MarkBadge, ProgressBar } from '../components/ui';
import { applyMatrixEvent, applyRun, buildGrid, countCells, newerCells, type GridRow } from '../grid';
import { useEvents, useLoad } from '../hooks';
import { countKnown, triageByRun, triagedMark } from '../triage';
import type { MatrixTriage } from '@vmfarm/protocol';

/** Images the caller may list label the rows; without them rows show hash prefixes. */
async function imagesBySha(): Promise<Map<string, Image>> {
  const list = await fetchImages().catch(() => []);
  return new Map(list.map((i) => [i.sha256, i]));
}

export function MatrixPage() {
  const { id = '' } = useParams();
  const matrix = useLoad(`matrix:${id}`, () => api.getMatrix({ params: { id } }), newerCells);
  const images = useLoad('images', imagesBySha);
  // Known issues, retries and flaky cells: read when the page opens, when the matrix is done and
  // when a retry adds a cell (live events alone fill the grid meanwhile).
  const phase = `${matrix.data?.state ?? ''}:${matrix.data?.cells.length ?? 0}`;
  const triage = useLoad(`triage:${id}:${phase}`, () => api.getMatrixTriage({ params: { id } }));
  const [shownTriage, setShownTriage] = useState<MatrixTriage>();
  if (triage.data && triage.data !== shownTriage) setShownTriage(triage.data);
  // Live: every run change and progress of this matrix, pushed by the controller.
  useEvents(
    eventsUrl(id),
    {
      run: (data) => {
        const run = runViewSchema.safeParse(data);
        if (run.success) matrix.set((m) => m && applyRun(m, run.data));
      },
      matrix: (data) => {
        const event = matrixEventSchema.safeParse(data);
        if (!event.success) return;
        // A retry before regression adds a run, and runs ended all at once (a cancel) come as one
        // matrix event without a run event each: either way the matrix is fetched again.
        if (
          matrix.data &&
          (event.data.total !== matrix.data.cells.length ||
            (event.data.state === 'done' && matrix.data.cells.some((c) => c.state !== 'done')))
        )
          return matrix.reload();
        matrix.set((m) => m && applyMatrixEvent(m, event.data));
      },
    },
    matrix.reload,
  );
  return (
    <section>
      <Async loaded={matrix}>
        {(m) => (
          <>
            <MatrixView matrix={m} images={images.data ?? new Map()} triage={shownTriage} />
            <CancelMatrix
              matrix={m}
              onCancelled={(view) => matrix.set((shown) => (shown ? newerCells(view, shown) : view))}
            />
          </>
        )}
      </Async>
    </section>
  );
}

export function MatrixView({
  matrix,
  images,
  triage,
}: {
  matrix: Matrix;
  images: ReadonlyMap<string, Image>;
  triage?: MatrixTriage;
}) {
  const grid = useMemo(() => buildGrid(matrix, images), [matrix, images]);
  const byRun = useMemo(() => triageByRun(triage), [triage]);
  // A run a retry replaced is not counted: its retry is the cell's verdict.
  const counted = matrix.cells.filter((c) => !byRun.get(c.runId)?.supersededBy);
  const counts = countCells(counted);
  const known = countKnown(counted, byRun);
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
                  <MarkBadge mark={triagedMark(run, byRun.get(run.runId))} prefix={run.suite} />
                  {run.failing.length > 0 && !byRun.get(run.runId)?.supersededBy ? (
                    <span
                      className="failing"
                      title={`${run.suite} failed ${run.failing.join(', ')}`}
                      aria-label={`${run.suite} failed clauses: ${run.failing.join(', ')}`}
                    >
                      {run.failing.join(' ')}
                    </span>
                  ) : null}
                </Link>
              ))}
            </span>
          ),
        }),
      ),
    ];
  }, [grid, byRun]);
  return (
    <>
      <h1>
        Matrix <span className="mono">{matrix.id}</span>
      </h1>
      <p className="muted">
        created {formatTime(matrix.createdAt)} · suites {matrix.request.suites.join(', ')} ·{' '}
        <span data-testid="matrix-state">{matrix.cancelled ? 'cancelled' : matrix.state}</span>
        {matrix.scheduleId ? (
          <>
            {' '}
            · schedule <Link to={`/schedules/${matrix.scheduleId}/regressions`}>{matrix.scheduleId}</Link>
          </>
        ) : null}
      </p>
      {matrix.cancelled ? (
        <p className="notice" data-testid="matrix-cancelled">
          Cancelled by {matrix.cancelled.by} {formatTime(matrix.cancelled.at)}
          {matrix.cancelled.reason ? `: ${matrix.cancelled.reason}` : ''}; runs not done then are SKIP.
        </p>
      ) : null}
      <ProgressBar done={matrix.progress.done} total={matrix.progress.total} />
      <p className="counts">
        PASS {counts.PASS} · FAIL {counts.FAIL - known} · FAIL (known) {known} · ERROR {counts.ERROR} · SKIP{' '}
        {counts.SKIP} · pending {counts.pending}
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
        <a href={`/api/matrices/${matrix.id}/report?format=junit`}>JUnit XML</a> ·{' '}
        <a href={`/api/matrices/${matrix.id}/kcidb`}>KCIDB JSON</a>
      </p>
    </>
  );
}

/**
 * Cancels a running matrix after a second click: queued runs leave the queue, running ones are
 * stopped by their agents, each recorded SKIP with the reason. Only roles that may write see it.
 */
export function CancelMatrix({ matrix, onCancelled }: { matrix: Matrix; onCancelled: (m: Matrix) => void }) {
  const { me } = useAuth();
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  if (matrix.state === 'done' || (me && me.role !== 'admin' && me.role !== 'vendor')) return null;
  const pending = matrix.progress.total - matrix.progress.done;
  const cancel = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onCancelled(await api.cancelMatrix({ params: { id: matrix.id }, body: reason ? { reason } : {} }));
      setAsking(false);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="cancel no-print">
      {asking ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void cancel();
          }}
        >
          <label>
            Reason (optional){' '}
            <input value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
          </label>{' '}
          <button type="submit" className="danger" disabled={busy}>
            Cancel {pending} run{pending === 1 ? '' : 's'}
          </button>{' '}
          <button type="button" onClick={() => setAsking(false)} disabled={busy}>
            Keep running
          </button>
        </form>
      ) : (
        <button type="button" className="danger" onClick={() => setAsking(true)}>
          Cancel matrix
        </button>
      )}
      {error ? <ErrorBox error={error} /> : null}
    </div>
  );
}
