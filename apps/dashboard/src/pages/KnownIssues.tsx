import { createColumnHelper } from '@tanstack/react-table';
import { expiryFrom, type KnownIssueCreate, type KnownIssueView } from '@vmfarm/protocol';
import { useState, type FormEvent } from 'react';
import { api, PAGE } from '../api';
import { useAuth } from '../auth';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, ErrorBox } from '../components/ui';
import { useLoad } from '../hooks';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

/** What an issue is now: active (possibly fixed), expired, closed. */
export function issueStatus(i: Pick<KnownIssueView, 'state' | 'possiblyFixed'>): string {
  return i.state === 'active' && i.possiblyFixed ? 'possibly fixed' : i.state;
}

function matchText(i: KnownIssueView): string {
  const m = i.match;
  return [
    m.clauses.join(', '),
    m.target && `target ${m.target}`,
    m.imageName && `image ${m.imageName}`,
    m.imageVersion && `version ${m.imageVersion}`,
    m.imageTag && `tag ${m.imageTag}`,
    m.message && `message /${m.message}/`,
  ]
    .filter(Boolean)
    .join(' · ');
}

/**
 * Known issues (waivers): a FAIL one matches stays FAIL, shown as FAIL (known: title), counted apart
 * and never a regression, until the issue expires or is closed.
 */
export function KnownIssues() {
  const { me } = useAuth();
  const [all, setAll] = useState(false);
  const issues = useLoad(`known-issues:${all}`, () => api.listKnownIssues({ query: { limit: PAGE, all } }));
  const [error, setError] = useState<Error | null>(null);
  const writer = !me || me.role === 'admin' || me.role === 'vendor';
  const close = async (id: string) => {
    setError(null);
    try {
      await api.closeKnownIssue({ params: { id } });
      issues.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const col = createColumnHelper<KnownIssueView>();
  const columns = [
    col.accessor('title', {
      header: 'Known issue',
      cell: (c) => (
        <span id={c.row.original.id}>
          <b>{c.getValue()}</b>
          <br />
          <span className="muted mono">{c.row.original.id}</span>
          {c.row.original.link ? (
            <>
              {' '}
              <a href={c.row.original.link} rel="noreferrer" target="_blank">
                link
              </a>
            </>
          ) : null}
        </span>
      ),
    }),
    col.accessor(issueStatus, { id: 'status', header: 'Status' }),
    col.accessor(matchText, { id: 'match', header: 'Matches FAILs of' }),
    col.accessor('owner', { header: 'Owner' }),
    col.accessor('reason', { header: 'Reason' }),
    col.accessor((i) => i.tenant ?? 'public', { id: 'tenant', header: 'Tenant' }),
    col.accessor('expiresAt', { header: 'Expires', cell: (c) => formatTime(c.getValue()) }),
    col.accessor('lastMatchAt', {
      header: 'Last match',
      cell: (c) => `${formatTime(c.getValue())} (${c.row.original.runsSinceMatch} runs since)`,
    }),
    col.display({
      id: 'actions',
      header: '',
      cell: (c) =>
        writer && c.row.original.state !== 'closed' ? (
          <button type="button" onClick={() => void close(c.row.original.id)}>
            Close
          </button>
        ) : null,
    }),
  ];
  return (
    <section>
      <h1>Known issues</h1>
      <p className="muted">
        A FAIL a known issue matches stays a FAIL in every report, shown as FAIL (known), counted apart and
        never reported as a new regression. An expired or closed issue matches nothing.
      </p>
      <label className="no-print">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> show closed issues
      </label>
      {error ? <ErrorBox error={error} /> : null}
      <Async loaded={issues}>
        {(data) => <DataTable data={data} columns={columns} label="known issues" empty="No known issues." />}
      </Async>
      {writer ? <AddKnownIssue onAdded={issues.reload} /> : null}
    </section>
  );
}

function AddKnownIssue({ onAdded }: { onAdded: () => void }) {
  const empty = {
    title: '',
    owner: '',
    reason: '',
    link: '',
    clauses: '',
    target: '',
    imageName: '',
    imageVersion: '',
    imageTag: '',
    message: '',
    expires: '',
    fixedAfter: '5',
  };
  const [form, setForm] = useState(empty);
  const [error, setError] = useState<Error | null>(null);
  const field = (key: keyof typeof form) => ({
    id: `issue-${key}`,
    value: form[key],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const opt = (v: string) => (v.trim() ? v.trim() : undefined);
    try {
      const body: KnownIssueCreate = {
        title: form.title,
        owner: form.owner,
        reason: form.reason,
        link: opt(form.link),
        expiresAt: opt(form.expires) && expiryFrom(form.expires),
        fixedAfter: Number(form.fixedAfter) || 5,
        match: {
          clauses: list(form.clauses),
          target: opt(form.target),
          imageName: opt(form.imageName),
          imageVersion: opt(form.imageVersion),
          imageTag: opt(form.imageTag),
          message: opt(form.message),
        },
      };
      await api.createKnownIssue({ body });
      setForm(empty);
      onAdded();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <form className="form no-print" onSubmit={(e) => void submit(e)} aria-label="new known issue">
      <h2>New known issue</h2>
      <label htmlFor="issue-title">Title</label>
      <input {...field('title')} required />
      <label htmlFor="issue-owner">Owner</label>
      <input {...field('owner')} required />
      <label htmlFor="issue-reason">Reason</label>
      <input {...field('reason')} required />
      <label htmlFor="issue-link">Link</label>
      <input {...field('link')} placeholder="https://bugs.example.org/123" />
      <label htmlFor="issue-clauses">Clauses or rule IDs (comma-separated; * and ? match)</label>
      <input {...field('clauses')} required placeholder="IMG-GPT, VBSA:V_L1GI_*" />
      <label htmlFor="issue-target">Target pattern</label>
      <input {...field('target')} placeholder="qemu-*" />
      <label htmlFor="issue-imageName">Image name pattern</label>
      <input {...field('imageName')} />
      <label htmlFor="issue-imageVersion">Image version pattern</label>
      <input {...field('imageVersion')} />
      <label htmlFor="issue-imageTag">Image tag pattern</label>
      <input {...field('imageTag')} />
      <label htmlFor="issue-message">Message (RE2 regular expression)</label>
      <input {...field('message')} />
      <label htmlFor="issue-expires">
        Expires (an instant such as 2026-03-01T00:00:00Z, or 7d, 12h, 30m, 90s)
      </label>
      <input {...field('expires')} />
      <label htmlFor="issue-fixedAfter">Possibly fixed after this many runs without a match</label>
      <input {...field('fixedAfter')} inputMode="numeric" />
      <button type="submit">Add known issue</button>
      {error ? <ErrorBox error={error} /> : null}
    </form>
  );
}
