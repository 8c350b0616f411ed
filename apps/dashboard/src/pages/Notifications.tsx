import { createColumnHelper } from '@tanstack/react-table';
import {
  HOOK_EVENTS,
  type DeliveryView,
  type HookCreate,
  type HookEvent,
  type HookView,
  type PolicyScope,
} from '@vmfarm/protocol';
import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, ErrorBox } from '../components/ui';
import { useLoad } from '../hooks';

export function scopeText(s: PolicyScope): string {
  if (s.kind === 'farm') return 'the farm';
  return s.kind === 'tenant' ? `tenant ${s.tenant}` : `schedule ${s.scheduleId}`;
}

/** The scope a form describes: the farm, a tenant or a schedule by id. */
export function scopeFrom(kind: string, value: string): PolicyScope {
  if (kind === 'tenant') return { kind: 'tenant', tenant: value.trim() };
  if (kind === 'schedule') return { kind: 'schedule', scheduleId: value.trim() };
  return { kind: 'farm' };
}

/** Webhooks and e-mail hooks, and each one's delivery log. */
export function Notifications() {
  const { me } = useAuth();
  const hooks = useLoad('hooks', () => api.listHooks());
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const writer = !me || me.role === 'admin' || me.role === 'vendor';
  const remove = async (id: string) => {
    setError(null);
    try {
      await api.deleteHook({ params: { id } });
      hooks.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const col = createColumnHelper<HookView>();
  const columns = [
    col.accessor((h) => scopeText(h.scope), { id: 'scope', header: 'For' }),
    col.accessor((h) => (h.kind === 'webhook' ? h.url : (h.to ?? []).join(', ')), {
      id: 'to',
      header: 'Sent to',
      cell: (c) => <span className="mono">{c.getValue()}</span>,
    }),
    col.accessor('kind', { header: 'Kind' }),
    col.accessor((h) => h.events.join(', '), { id: 'events', header: 'Events' }),
    col.accessor('createdAt', { header: 'Created', cell: (c) => formatTime(c.getValue()) }),
    col.display({
      id: 'actions',
      header: '',
      cell: (c) => (
        <span className="actions">
          <button
            type="button"
            onClick={() => setOpen(open === c.row.original.id ? null : c.row.original.id)}
          >
            Deliveries
          </button>
          {writer ? (
            <button type="button" onClick={() => void remove(c.row.original.id)}>
              Delete
            </button>
          ) : null}
        </span>
      ),
    }),
  ];
  return (
    <section>
      <h1>Notifications</h1>
      <p className="muted">
        On matrix done, regression, fix and known issue expired, each hook gets a JSON body; webhooks carry{' '}
        <code>X-Vmfarm-Signature: sha256=&lt;HMAC-SHA256 of the body&gt;</code> and are retried with back-off
        until the receiver answers 2xx.
      </p>
      {error ? <ErrorBox error={error} /> : null}
      <Async loaded={hooks}>
        {(data) => <DataTable data={data} columns={columns} label="hooks" empty="No hooks yet." />}
      </Async>
      {open ? <Deliveries hookId={open} /> : null}
      {writer ? <AddHook onAdded={hooks.reload} /> : null}
    </section>
  );
}

function Deliveries({ hookId }: { hookId: string }) {
  const log = useLoad(`deliveries:${hookId}`, () =>
    api.listDeliveries({ params: { id: hookId }, query: { limit: 100 } }),
  );
  const col = createColumnHelper<DeliveryView>();
  const columns = [
    col.accessor('createdAt', { header: 'Queued', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('event', { header: 'Event' }),
    col.accessor('state', { header: 'State' }),
    col.accessor('attempts', { header: 'Attempts' }),
    col.accessor(
      (d) =>
        d.log.map((a) => `#${a.attempt} ${a.status ?? '—'}${a.error ? ` (${a.error})` : ''}`).join(' · '),
      { id: 'log', header: 'Answers' },
    ),
    col.accessor('nextAt', { header: 'Next attempt', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('deliveredAt', { header: 'Delivered', cell: (c) => formatTime(c.getValue()) }),
  ];
  return (
    <>
      <h2>
        Delivery log <button onClick={log.reload}>Refresh</button>
      </h2>
      <Async loaded={log}>
        {(data) => (
          <DataTable data={data} columns={columns} label="deliveries" empty="Nothing delivered yet." />
        )}
      </Async>
    </>
  );
}

function AddHook({ onAdded }: { onAdded: () => void }) {
  const [form, setForm] = useState({ kind: 'farm', scope: '', channel: 'webhook', to: '', secret: '' });
  const [events, setEvents] = useState<HookEvent[]>([...HOOK_EVENTS]);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const field = (key: keyof typeof form) => ({
    id: `hook-${key}`,
    value: form[key],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const body: HookCreate = {
      scope: scopeFrom(form.kind, form.scope),
      events,
      ...(form.channel === 'webhook'
        ? { webhook: { url: form.to.trim(), ...(form.secret ? { secret: form.secret } : {}) } }
        : { email: { to: form.to.split(',').map((x) => x.trim()) } }),
    };
    try {
      const made = await api.createHook({ body });
      setSecret(made.secret);
      setForm({ ...form, to: '', secret: '' });
      onAdded();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form className="form no-print" onSubmit={(e) => void submit(e)} aria-label="new hook">
      <h2>New hook</h2>
      <label htmlFor="hook-kind">For</label>
      <select {...field('kind')}>
        <option value="farm">the farm (admin)</option>
        <option value="tenant">a tenant</option>
        <option value="schedule">a schedule</option>
      </select>
      <label htmlFor="hook-scope">Tenant or schedule id</label>
      <input {...field('scope')} disabled={form.kind === 'farm'} />
      <label htmlFor="hook-channel">Send</label>
      <select {...field('channel')}>
        <option value="webhook">a webhook (HTTP POST)</option>
        <option value="email">an e-mail</option>
      </select>
      <label htmlFor="hook-to">URL, or e-mail addresses (comma-separated)</label>
      <input {...field('to')} required />
      <label htmlFor="hook-secret">Secret (webhooks; made for you when empty)</label>
      <input {...field('secret')} disabled={form.channel !== 'webhook'} />
      <fieldset>
        <legend>Events</legend>
        {HOOK_EVENTS.map((ev) => (
          <label key={ev}>
            <input
              type="checkbox"
              checked={events.includes(ev)}
              onChange={(e) => setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev))}
            />{' '}
            {ev}
          </label>
        ))}
      </fieldset>
      <button type="submit">Add hook</button>
      {secret ? (
        <p>
          The webhook's secret, shown this once: <code data-testid="hook-secret">{secret}</code>
        </p>
      ) : null}
      {error ? <ErrorBox error={error} /> : null}
    </form>
  );
}
