import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router';
import { api, eventsUrl, matrixEventSchema, type MatrixEntry } from '../api';
import { DataTable } from '../components/DataTable';
import { Async, MarkBadge, ProgressBar } from '../components/ui';
import { formatTime } from '../changes';
import { applySummaryEvent } from '../grid';
import { useEvents, useLoad } from '../hooks';
import { verdictMark } from '../verdicts';

const col = createColumnHelper<MatrixEntry>();
const columns = [
  col.accessor('id', {
    header: 'Matrix',
    cell: (c) => (
      <Link to={`/matrices/${c.getValue()}`} className="mono">
        {c.getValue().slice(0, 12)}
      </Link>
    ),
  }),
  col.accessor('createdAt', { header: 'Created', cell: (c) => formatTime(c.getValue()) }),
  col.accessor((m) => (m.cancelled ? 'cancelled' : m.state), { id: 'state', header: 'State' }),
  col.accessor((m) => m.progress.done / Math.max(1, m.progress.total), {
    id: 'progress',
    header: 'Progress',
    cell: (c) => <ProgressBar {...c.row.original.progress} />,
  }),
  col.display({
    id: 'verdicts',
    header: 'Verdicts',
    cell: (c) => {
      const { counts } = c.row.original;
      return (
        <span className="counts">
          {(['PASS', 'FAIL', 'ERROR', 'SKIP'] as const).map((v) => (
            <span key={v}>
              <MarkBadge mark={verdictMark(v)} /> {counts[v]}
            </span>
          ))}
        </span>
      );
    },
  }),
  col.accessor((m) => m.request.images, { id: 'images', header: 'Images' }),
  col.accessor((m) => m.request.targets.join(', '), { id: 'targets', header: 'Targets' }),
  col.accessor((m) => m.request.suites.join(', '), { id: 'suites', header: 'Suites' }),
];

export function Matrices() {
  const matrices = useLoad('matrices', () => api.listMatrices({ query: { limit: 100 } }));
  useEvents(
    eventsUrl(),
    {
      matrix: (data) => {
        const event = matrixEventSchema.safeParse(data);
        if (!event.success) return;
        // A matrix this list has not seen yet (submitted elsewhere): fetch the list again.
        if (!matrices.data?.some((m) => m.id === event.data.id)) return matrices.reload();
        matrices.set((list) => list?.map((m) => applySummaryEvent(m, event.data)));
      },
    },
    matrices.reload,
  );
  return (
    <section>
      <h1>Matrices</h1>
      <Async loaded={matrices}>
        {(list) => (
          <DataTable
            data={list}
            columns={columns}
            label="matrices"
            empty="No matrices yet: submit one with `vmfarm submit` or POST /api/matrices."
          />
        )}
      </Async>
    </section>
  );
}
