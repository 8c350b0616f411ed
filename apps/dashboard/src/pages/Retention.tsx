import { createColumnHelper } from '@tanstack/react-table';
import type { Deletion, JanitorReport, PolicyView } from '@vmfarm/protocol';
import { useState, type FormEvent } from 'react';
import { api, PAGE } from '../api';
import { useAuth } from '../auth';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, ErrorBox } from '../components/ui';
import { useLoad } from '../hooks';
import { scopeFrom, scopeText } from './Notifications';

/** Bytes as people read them. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const orDash = (v: number | null) => (v === null ? '—' : String(v));

/** Retry and retention policies, disk usage, the janitor and its deletion log. */
export function Retention() {
  const { me } = useAuth();
  const admin = !me || me.role === 'admin';
  const reader = admin || me?.role === 'viewer';
  const policies = useLoad('policies', () => api.listPolicies());
  const col = createColumnHelper<PolicyView>();
  const columns = [
    col.accessor((p) => scopeText(p.scope), { id: 'scope', header: 'For' }),
    col.accessor('retries', { header: 'Retries before a regression', cell: (c) => orDash(c.getValue()) }),
    col.accessor('keepDays', { header: 'Keep (days)', cell: (c) => orDash(c.getValue()) }),
    col.accessor('keepMatrices', { header: 'Keep (newest matrices)', cell: (c) => orDash(c.getValue()) }),
    col.accessor('updatedAt', { header: 'Set', cell: (c) => formatTime(c.getValue()) }),
  ];
  return (
    <section>
      <h1>Retention and retries</h1>
      <p className="muted">
        The most specific policy wins (schedule, then tenant, then farm). Past retention, a matrix's artifacts
        and image bytes no kept matrix ran are removed; never those of a run a known issue explains or the
        latest certification reads. Verdicts always stay. Without a policy: one retry, everything kept.
      </p>
      <Async loaded={policies}>
        {(data) => <DataTable data={data} columns={columns} label="policies" empty="No policies set." />}
      </Async>
      {me?.role === 'viewer' ? null : <SetPolicy onSet={policies.reload} />}
      {reader ? <Disk admin={admin} /> : null}
    </section>
  );
}

function SetPolicy({ onSet }: { onSet: () => void }) {
  const [form, setForm] = useState({
    kind: 'schedule',
    scope: '',
    retries: '',
    keepDays: '',
    keepMatrices: '',
  });
  const [error, setError] = useState<Error | null>(null);
  const field = (key: keyof typeof form) => ({
    id: `policy-${key}`,
    value: form[key],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    // Empty: inherit from the wider scope.
    const n = (v: string) => (v.trim() === '' ? null : Number(v));
    const body = { retries: n(form.retries), keepDays: n(form.keepDays), keepMatrices: n(form.keepMatrices) };
    const scope = scopeFrom(form.kind, form.scope);
    try {
      if (scope.kind === 'farm') await api.putFarmPolicy({ body });
      else if (scope.kind === 'tenant') await api.putTenantPolicy({ params: { tenant: scope.tenant }, body });
      else await api.putSchedulePolicy({ params: { id: scope.scheduleId }, body });
      onSet();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form className="form no-print" onSubmit={(e) => void submit(e)} aria-label="set policy">
      <h2>Set a policy</h2>
      <label htmlFor="policy-kind">For</label>
      <select {...field('kind')}>
        <option value="schedule">a schedule</option>
        <option value="tenant">a tenant</option>
        <option value="farm">the farm (admin)</option>
      </select>
      <label htmlFor="policy-scope">Schedule id or tenant</label>
      <input {...field('scope')} disabled={form.kind === 'farm'} />
      <label htmlFor="policy-retries">Retries before a regression (empty: inherit)</label>
      <input {...field('retries')} inputMode="numeric" />
      <label htmlFor="policy-keepDays">Keep artifacts and images this many days</label>
      <input {...field('keepDays')} inputMode="numeric" />
      <label htmlFor="policy-keepMatrices">Keep the newest this many matrices</label>
      <input {...field('keepMatrices')} inputMode="numeric" />
      <button type="submit">Set policy</button>
      {error ? <ErrorBox error={error} /> : null}
    </form>
  );
}

function Disk({ admin }: { admin: boolean }) {
  const usage = useLoad('disk', () => api.getDiskUsage());
  const deletions = useLoad('deletions', () => api.listDeletions({ query: { limit: PAGE } }));
  const [report, setReport] = useState<JanitorReport | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const run = async (dryRun: boolean) => {
    setError(null);
    try {
      setReport(await api.runJanitor({ body: { dryRun } }));
      usage.reload();
      deletions.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const col = createColumnHelper<Deletion>();
  const columns = [
    col.accessor('at', { header: 'When', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('kind', { header: 'What' }),
    col.accessor((d) => (d.kind === 'image' ? d.sha256 : `${d.runId} #${d.attempt} ${d.name}`), {
      id: 'subject',
      header: 'Removed',
      cell: (c) => <span className="mono">{c.getValue()}</span>,
    }),
    col.accessor('bytes', { header: 'Size', cell: (c) => bytes(c.getValue()) }),
    col.accessor('reason', { header: 'Why' }),
  ];
  return (
    <>
      <h2>Disk usage</h2>
      <Async loaded={usage}>
        {(u) => (
          <ul data-testid="disk-usage">
            <li>
              Images: {u.images.count} stored, {bytes(u.images.bytes)}; {u.images.removed} removed by
              retention
            </li>
            <li>
              Artifacts: {u.artifacts.count}, {bytes(u.artifacts.bytes)}
              {u.bySchedule.map((s) => (
                <span key={s.scheduleId ?? 'manual'}>
                  {' '}
                  · {s.scheduleId ? `schedule ${s.scheduleId}` : 'by hand'}: {bytes(s.bytes)} in {s.matrices}{' '}
                  matrices
                </span>
              ))}
            </li>
            {u.filesystem ? (
              <li>
                Disk of {u.filesystem.path}: {bytes(u.filesystem.free)} free of {bytes(u.filesystem.total)}
              </li>
            ) : null}
          </ul>
        )}
      </Async>
      {admin ? (
        <p className="no-print actions">
          <button type="button" onClick={() => void run(true)}>
            What would the janitor remove?
          </button>
          <button type="button" className="danger" onClick={() => void run(false)}>
            Run the janitor now
          </button>
        </p>
      ) : null}
      {report ? (
        <p data-testid="janitor-report">
          {report.dryRun ? 'Would remove' : 'Removed'} {report.deleted.artifacts} artifact(s) and{' '}
          {report.deleted.images} image(s), {bytes(report.deleted.bytes)}; kept {report.kept.knownIssue} under
          known issues and {report.kept.certification} the latest certification reads.
        </p>
      ) : null}
      {error ? <ErrorBox error={error} /> : null}
      <h2>Deletion log</h2>
      <Async loaded={deletions}>
        {(data) => <DataTable data={data} columns={columns} label="deletions" empty="Nothing removed yet." />}
      </Async>
    </>
  );
}
