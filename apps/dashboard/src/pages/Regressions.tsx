import { createColumnHelper } from '@tanstack/react-table';
import { Link, useParams, useSearchParams } from 'react-router';
import type { FlakyCell, KnownChange, TriagedRegressions } from '@vmfarm/protocol';
import { api } from '../api';
import { changeRows, formatTime, type ChangeRow } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, VerdictBadge } from '../components/ui';
import { useLoad } from '../hooks';

const col = createColumnHelper<ChangeRow>();
const verdict = (v: ChangeRow['before']) => <VerdictBadge verdict={v} />;
const columns = [
  col.accessor('kind', { header: 'Change' }),
  col.accessor('imageName', { header: 'Image' }),
  col.accessor('targetId', { header: 'Target' }),
  col.accessor('clause', { header: 'Clause', cell: (c) => <b className="mono">{c.getValue()}</b> }),
  col.accessor('before', { header: 'Before', cell: (c) => verdict(c.getValue()) }),
  col.accessor('after', { header: 'After', cell: (c) => verdict(c.getValue()) }),
  col.accessor('runId', {
    header: 'Runs (before → after)',
    enableSorting: false,
    cell: (c) => (
      <span className="mono">
        <Link to={`/runs/${c.row.original.previousRunId}`}>{c.row.original.previousRunId.slice(0, 8)}</Link>
        {' → '}
        <Link to={`/runs/${c.getValue()}`}>{c.getValue().slice(0, 8)}</Link>
      </span>
    ),
  }),
];

type Regressions = TriagedRegressions;

const knownCol = createColumnHelper<KnownChange>();
const knownColumns = [
  knownCol.accessor('imageName', { header: 'Image' }),
  knownCol.accessor('targetId', { header: 'Target' }),
  knownCol.accessor('clause', { header: 'Clause', cell: (c) => <b className="mono">{c.getValue()}</b> }),
  knownCol.accessor('after', {
    header: 'Verdict',
    cell: (c) => (
      <>
        {verdict(c.getValue())} <span className="known-note">(known)</span>
      </>
    ),
  }),
  knownCol.accessor((k) => k.issues.map((i) => i.title).join('; '), {
    id: 'issues',
    header: 'Known issue',
    cell: (c) => (
      <span>
        {c.row.original.issues.map((i) => (
          <Link key={i.id} to={`/known-issues#${i.id}`}>
            {i.title}
          </Link>
        ))}
      </span>
    ),
  }),
  knownCol.accessor('runId', {
    header: 'Run',
    enableSorting: false,
    cell: (c) => (
      <Link to={`/runs/${c.getValue()}`} className="mono">
        {c.getValue().slice(0, 8)}
      </Link>
    ),
  }),
];

const flakyCol = createColumnHelper<FlakyCell>();
const flakyColumns = [
  flakyCol.accessor('imageName', { header: 'Image' }),
  flakyCol.accessor('targetId', { header: 'Target' }),
  flakyCol.accessor('suite', { header: 'Suite' }),
  flakyCol.accessor('before', { header: 'First run', cell: (c) => verdict(c.getValue()) }),
  flakyCol.accessor('runId', {
    header: 'Runs (first → retry)',
    enableSorting: false,
    cell: (c) => (
      <span className="mono">
        <Link to={`/runs/${c.row.original.retriedRunId}`}>{c.row.original.retriedRunId.slice(0, 8)}</Link>
        {' → '}
        <Link to={`/runs/${c.getValue()}`}>{c.getValue().slice(0, 8)}</Link>
      </span>
    ),
  }),
];

function RegressionsView({ r }: { r: Regressions }) {
  const rows = changeRows(r);
  const ref = (m: Regressions['latest']) =>
    m ? (
      <>
        <Link to={`/matrices/${m.matrixId}`} className="mono">
          {m.matrixId.slice(0, 12)}
        </Link>{' '}
        ({formatTime(m.at)})
      </>
    ) : (
      'none'
    );
  return (
    <>
      <p>
        Latest {ref(r.latest)} against previous {ref(r.previous)}: {r.regressions.length} regression
        {r.regressions.length === 1 ? '' : 's'}, {r.fixes.length} fix{r.fixes.length === 1 ? '' : 'es'},{' '}
        {r.known.length} known, {r.flaky.length} flaky.
      </p>
      <DataTable
        data={rows}
        columns={columns}
        label="regressions"
        empty={r.previous ? 'No verdict changed.' : 'Nothing to compare with yet: the schedule has run once.'}
      />
      <h2>Known: PASS → FAIL that known issues explain ({r.known.length})</h2>
      <DataTable data={r.known} columns={knownColumns} label="known failures" empty="None." />
      <h2>Flaky: failed or errored, passed when re-run ({r.flaky.length})</h2>
      <DataTable data={r.flaky} columns={flakyColumns} label="flaky cells" empty="None." />
      <h2>PASS → ERROR: the farm broke, not the subject ({r.errors.length})</h2>
      <DataTable
        data={r.errors.map((e) => ({ ...e, kind: 'error' as const }))}
        columns={columns}
        label="errors"
        empty="None."
      />
    </>
  );
}

export function ScheduleRegressions() {
  const { id = '' } = useParams();
  const schedule = useLoad(`schedule:${id}`, () => api.getSchedule({ params: { id } }));
  const r = useLoad(`regressions:${id}`, () => api.getScheduleRegressions({ params: { id } }));
  return (
    <section>
      <h1>Regressions of schedule {schedule.data?.name ?? id}</h1>
      <p className="no-print">
        <Link to={`/history?scheduleId=${encodeURIComponent(id)}`}>Pass-rate trend and history</Link>
      </p>
      <Async loaded={r}>{(data) => <RegressionsView r={data} />}</Async>
    </section>
  );
}

export function MatrixRegressions() {
  const { id = '' } = useParams();
  const [params] = useSearchParams();
  const against = params.get('against') ?? '';
  const r = useLoad(`regressions:${id}:${against}`, () =>
    api.getMatrixRegressions({ params: { id }, query: { against } }),
  );
  return (
    <section>
      <h1>
        Regressions of matrix <span className="mono">{id.slice(0, 12)}</span>
      </h1>
      <Async loaded={r}>{(data) => <RegressionsView r={data} />}</Async>
    </section>
  );
}
