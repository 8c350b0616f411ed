import { createColumnHelper } from '@tanstack/react-table';
import { useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import {
  Bar,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { api } from '../api';
import { formatTime, historyRows, trendData, type HistoryRow, type TrendDatum } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, VerdictBadge } from '../components/ui';
import { useLoad } from '../hooks';

const FILTERS = ['imageName', 'targetId', 'clause', 'scheduleId'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const col = createColumnHelper<HistoryRow>();
const columns = [
  col.accessor('imageName', { header: 'Image' }),
  col.accessor('targetId', { header: 'Target' }),
  col.accessor('clause', { header: 'Clause', cell: (c) => <b className="mono">{c.getValue()}</b> }),
  col.accessor('latest', {
    header: 'Latest',
    cell: (c) => {
      const v = c.getValue();
      return v ? <VerdictBadge verdict={v} /> : '—';
    },
  }),
  col.accessor('latestVersion', { header: 'Version', cell: (c) => c.getValue() ?? '' }),
  col.accessor((r) => r.verdicts.join(' '), {
    id: 'verdicts',
    header: 'Over time (oldest first)',
    enableSorting: false,
    cell: (c) => (
      <span className="strip">
        {c.row.original.verdicts.map((v, i) => (
          <VerdictBadge key={i} verdict={v} />
        ))}
      </span>
    ),
  }),
  col.accessor('firstFailure', { header: 'First failure', cell: (c) => formatTime(c.getValue()) }),
  col.accessor('lastPass', { header: 'Last pass', cell: (c) => formatTime(c.getValue()) }),
  col.accessor('fixedAt', { header: 'Fixed', cell: (c) => formatTime(c.getValue()) }),
];

export function History() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Filters;
  const [draft, setDraft] = useState(filters);
  const key = params.toString();
  const history = useLoad(`history:${key}`, () =>
    api.listHistory({
      query: { imageName: filters.imageName, targetId: filters.targetId, clause: filters.clause },
    }),
  );
  const trend = useLoad(`trend:${key}`, () =>
    api.getTrend({
      query: { scheduleId: filters.scheduleId, imageName: filters.imageName, targetId: filters.targetId },
    }),
  );
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams(Object.fromEntries(Object.entries(draft).filter(([, v]) => v !== '')));
  };
  return (
    <section>
      <h1>History</h1>
      <form className="filters no-print" onSubmit={apply} aria-label="history filters">
        {FILTERS.map((f) => (
          <label key={f}>
            {f === 'scheduleId' ? 'scheduleId (trend)' : f}{' '}
            <input value={draft[f]} onChange={(e) => setDraft({ ...draft, [f]: e.target.value })} />
          </label>
        ))}
        <button type="submit">Show</button>
      </form>
      <h2>Pass rate</h2>
      <Async loaded={trend}>{(points) => <TrendChart data={trendData(points)} />}</Async>
      <h2>Verdicts per image × target × clause</h2>
      <Async loaded={history}>
        {(series) => (
          <DataTable
            data={historyRows(series)}
            columns={columns}
            label="history"
            empty="No history for these filters."
          />
        )}
      </Async>
    </section>
  );
}

export function TrendChart({ data }: { data: TrendDatum[] }) {
  if (data.length === 0) return <p className="muted">No finished matrices for these filters.</p>;
  return (
    <div className="chart" aria-label="pass-rate trend">
      <ResponsiveContainer width="100%" height={280}>
        <ComposedChart data={data} margin={{ top: 8, right: 24, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="label" />
          <YAxis yAxisId="rate" domain={[0, 100]} unit="%" />
          <YAxis yAxisId="count" orientation="right" allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Bar yAxisId="count" dataKey="pass" stackId="v" name="PASS" fill="var(--pass)" />
          <Bar yAxisId="count" dataKey="fail" stackId="v" name="FAIL" fill="var(--fail)" />
          <Bar yAxisId="count" dataKey="error" stackId="v" name="ERROR" fill="var(--error)" />
          <Bar yAxisId="count" dataKey="skip" stackId="v" name="SKIP" fill="var(--skip)" />
          <Line yAxisId="rate" dataKey="passRate" name="pass rate %" stroke="var(--ink)" strokeWidth={2} />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}
