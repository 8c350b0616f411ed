import { createColumnHelper } from '@tanstack/react-table';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, PAGE, type Schedule, type ScheduleRequest } from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, ErrorBox } from '../components/ui';
import { useLoad } from '../hooks';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

function selector(s: Schedule): string {
  return 'tags' in s.images ? `tagged ${s.images.tags.join(', ')}` : `${s.images.sha256.length} image(s)`;
}

export function Schedules() {
  const schedules = useLoad('schedules', () => api.listSchedules({ query: { limit: PAGE } }));
  const navigate = useNavigate();
  const [error, setError] = useState<Error | null>(null);
  const runNow = async (id: string) => {
    setError(null);
    try {
      const matrix = await api.runSchedule({ params: { id } });
      navigate(`/matrices/${matrix.id}`);
    } catch (err) {
      setError(err as Error);
    }
  };
  const col = createColumnHelper<Schedule>();
  const columns = [
    col.accessor('name', { header: 'Name' }),
    col.accessor('cron', { header: 'Cron', cell: (c) => <code>{c.getValue()}</code> }),
    col.accessor('timezone', { header: 'Time zone' }),
    col.accessor(selector, { id: 'images', header: 'Images' }),
    col.accessor((s) => s.targets.join(', '), { id: 'targets', header: 'Targets' }),
    col.accessor((s) => s.suites.join(', '), { id: 'suites', header: 'Suites' }),
    col.accessor('nextRunAt', { header: 'Next run', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('lastMatrixId', {
      header: 'Last matrix',
      cell: (c) => {
        const id = c.getValue();
        return id ? (
          <Link to={`/matrices/${id}`} className="mono">
            {id.slice(0, 12)}
          </Link>
        ) : (
          '—'
        );
      },
    }),
    col.accessor((s) => (s.enabled ? 'yes' : 'no'), { id: 'enabled', header: 'Enabled' }),
    col.display({
      id: 'actions',
      header: '',
      cell: (c) => (
        <span className="actions">
          <button type="button" onClick={() => void runNow(c.row.original.id)}>
            Run now
          </button>
          <Link to={`/schedules/${c.row.original.id}/regressions`}>Regressions</Link>
          <Link to={`/history?scheduleId=${encodeURIComponent(c.row.original.id)}`}>History</Link>
        </span>
      ),
    }),
  ];
  return (
    <section>
      <h1>Schedules</h1>
      {error ? <ErrorBox error={error} /> : null}
      <Async loaded={schedules}>
        {(data) => <DataTable data={data} columns={columns} label="schedules" empty="No schedules yet." />}
      </Async>
      <CreateSchedule onCreated={schedules.reload} />
    </section>
  );
}

function CreateSchedule({ onCreated }: { onCreated: () => void }) {
  const [form, setForm] = useState({
    name: '',
    cron: '0 2 * * *',
    timezone: 'UTC',
    by: 'tags' as 'tags' | 'sha256',
    images: '',
    targets: 'all',
    suites: 'all',
  });
  const [error, setError] = useState<Error | null>(null);
  const field = (key: keyof typeof form) => ({
    id: `schedule-${key}`,
    value: form[key],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const values = list(form.images);
    const body: ScheduleRequest = {
      name: form.name,
      cron: form.cron,
      timezone: form.timezone || undefined,
      images: form.by === 'tags' ? { tags: values } : { sha256: values },
      targets: list(form.targets),
      suites: list(form.suites),
    };
    try {
      await api.createSchedule({ body });
      setForm({ ...form, name: '', images: '' });
      onCreated();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form className="form no-print" onSubmit={(e) => void submit(e)} aria-label="new schedule">
      <h2>New schedule</h2>
      <label htmlFor="schedule-name">Name</label>
      <input {...field('name')} required />
      <label htmlFor="schedule-cron">Cron</label>
      <input {...field('cron')} required />
      <label htmlFor="schedule-timezone">Time zone</label>
      <input {...field('timezone')} />
      <label htmlFor="schedule-by">Images by</label>
      <select {...field('by')}>
        <option value="tags">tags (newest version of each image name)</option>
        <option value="sha256">sha256</option>
      </select>
      <label htmlFor="schedule-images">Images (comma-separated)</label>
      <input {...field('images')} required />
      <label htmlFor="schedule-targets">Targets (comma-separated, or all)</label>
      <input {...field('targets')} required />
      <label htmlFor="schedule-suites">Suites (comma-separated, or all)</label>
      <input {...field('suites')} required />
      <button type="submit">Create schedule</button>
      {error ? <ErrorBox error={error} /> : null}
    </form>
  );
}
