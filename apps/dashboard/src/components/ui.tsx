import type { Verdict } from '@vmfarm/protocol';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../api';
import { LoginRedirect } from '../auth';
import type { Loaded } from '../hooks';
import { LEGEND, runMark, verdictMark, type Mark, type RunState } from '../verdicts';

/** A verdict as colour and letter; the word is there for screen readers and tooltips. */
export function MarkBadge({ mark, prefix }: { mark: Mark; prefix?: string }) {
  const label = prefix ? `${prefix}: ${mark.word}` : mark.word;
  return (
    <span className={`mark tone-${mark.tone}`} title={label} aria-label={label} data-verdict={mark.word}>
      {prefix ? <span className="mark-prefix">{prefix} </span> : null}
      <b>{mark.letter}</b>
    </span>
  );
}

export function VerdictBadge({ verdict }: { verdict: Verdict }) {
  return <MarkBadge mark={verdictMark(verdict)} />;
}

export function RunBadge({
  state,
  verdict,
  prefix,
}: {
  state: RunState;
  verdict: Verdict | null;
  prefix?: string;
}) {
  return <MarkBadge mark={runMark(state, verdict)} prefix={prefix} />;
}

export function Legend() {
  return (
    <p className="legend">
      {LEGEND.map((m) => (
        <span key={m.letter}>
          <MarkBadge mark={m} /> {m.word}
        </span>
      ))}
    </p>
  );
}

export function ProgressBar({ done, total }: { done: number; total: number }) {
  const percent = total === 0 ? 100 : Math.round((done / total) * 100);
  return (
    <div
      className="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
      aria-label="runs done"
    >
      <div className="progress-fill" style={{ width: `${percent}%` }} />
      <span className="progress-text">
        {done}/{total}
      </span>
    </div>
  );
}

/** Loading, error (401 goes to the login page) or the content. */
export function Async<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ReactNode }) {
  if (loaded.error instanceof ApiError && loaded.error.status === 401) return <LoginRedirect />;
  if (loaded.error) return <ErrorBox error={loaded.error} />;
  if (loaded.data === undefined) return <p className="muted">Loading…</p>;
  return <>{children(loaded.data)}</>;
}

export function ErrorBox({ error }: { error: Error }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <p className="error" role="alert">
      {notFound ? 'Not found: ' : ''}
      {error.message}
    </p>
  );
}

export function ShortId({ id, to }: { id: string; to: string }) {
  return (
    <Link to={to} title={id} className="mono">
      {id.slice(0, 12)}
    </Link>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}
