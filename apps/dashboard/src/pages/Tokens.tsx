import { createColumnHelper } from '@tanstack/react-table';
import { useState, type FormEvent } from 'react';
import { api, PAGE, type Role, type Token } from '../api';
import { useAuth } from '../auth';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, ErrorBox } from '../components/ui';
import { useLoad } from '../hooks';

const ROLES: Role[] = ['vendor', 'viewer', 'admin', 'agent'];

export function Tokens() {
  const { me } = useAuth();
  const tokens = useLoad('tokens', () => api.listTokens({ query: { limit: PAGE } }));
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [form, setForm] = useState({ name: '', role: 'vendor' as Role, tenant: '' });
  if (me && me.role !== 'admin') return <p className="error">Only an admin manages tokens.</p>;
  const revoke = async (id: string) => {
    setError(null);
    try {
      await api.revokeToken({ params: { id } });
      tokens.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      // A tenant belongs to vendor tokens only: the controller refuses one on any other role.
      const tenant = form.role === 'vendor' ? form.tenant.trim() : undefined;
      const t = await api.createToken({ body: { name: form.name, role: form.role, tenant } });
      setCreated(t.token);
      setForm({ ...form, name: '', tenant: '' });
      tokens.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const col = createColumnHelper<Token>();
  const columns = [
    col.accessor('name', { header: 'Name' }),
    col.accessor('role', { header: 'Role' }),
    col.accessor((t) => t.tenant ?? '', { id: 'tenant', header: 'Tenant' }),
    col.accessor('createdAt', { header: 'Created', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('lastUsedAt', { header: 'Last used', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('revokedAt', { header: 'Revoked', cell: (c) => formatTime(c.getValue()) }),
    col.display({
      id: 'actions',
      header: '',
      cell: (c) =>
        c.row.original.revokedAt ? null : (
          <button type="button" onClick={() => void revoke(c.row.original.id)}>
            Revoke
          </button>
        ),
    }),
  ];
  return (
    <section>
      <h1>API tokens</h1>
      {error ? <ErrorBox error={error} /> : null}
      <Async loaded={tokens}>
        {(list) => <DataTable data={list} columns={columns} label="tokens" empty="No tokens." />}
      </Async>
      <form className="form" onSubmit={(e) => void create(e)} aria-label="new token">
        <h2>New token</h2>
        <label htmlFor="token-name">Name</label>
        <input
          id="token-name"
          value={form.name}
          onChange={(e) => setForm({ ...form, name: e.target.value })}
          required
        />
        <label htmlFor="token-role">Role</label>
        <select
          id="token-role"
          value={form.role}
          onChange={(e) => setForm({ ...form, role: e.target.value as Role })}
        >
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <label htmlFor="token-tenant">Tenant (vendors)</label>
        <input
          id="token-tenant"
          value={form.tenant}
          onChange={(e) => setForm({ ...form, tenant: e.target.value })}
          required={form.role === 'vendor'}
          disabled={form.role !== 'vendor'}
        />
        <button type="submit">Create token</button>
      </form>
      {created ? (
        <p className="created" role="status">
          New token (shown once, copy it now): <code data-testid="new-token">{created}</code>
        </p>
      ) : null}
    </section>
  );
}
