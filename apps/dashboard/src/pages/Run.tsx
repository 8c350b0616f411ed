import type { VerdictRecord } from '@vmfarm/protocol';
import { createColumnHelper } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router';
import {
  api,
  artifactText,
  artifactUrl,
  eventsUrl,
  matrixEventSchema,
  runViewSchema,
  type RunView,
} from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, ErrorBox, Json, RunBadge, VerdictBadge } from '../components/ui';
import { useEvents, useLoad } from '../hooks';
import { matchedLinesOf, stagesOf, transcriptLines } from '../transcript';

const CONSOLE = 'console.log';

export function RunPage() {
  const { id = '' } = useParams();
  const run = useLoad(`run:${id}`, () => api.getRun({ params: { id } }));
  const matrixId = run.data?.matrixId;
  const live = run.data !== undefined && run.data.state !== 'done';
  // Until the run is done its matrix's events bring its new states.
  useEvents(
    live && matrixId ? eventsUrl(matrixId) : null,
    {
      run: (data) => {
        const view = runViewSchema.safeParse(data);
        if (view.success && view.data.id === id) run.set(() => view.data);
      },
      // A cancelled matrix ends its runs without a run event each: its done matrix says so.
      matrix: (data) => {
        const event = matrixEventSchema.safeParse(data);
        if (event.success && event.data.id === matrixId && event.data.state === 'done') run.reload();
      },
    },
    run.reload,
  );
  return (
    <section>
      <Async loaded={run}>{(r) => <RunView run={r} />}</Async>
    </section>
  );
}

const vcol = createColumnHelper<VerdictRecord>();
const verdictColumns = [
  vcol.accessor('clause', {
    header: 'Clause',
    cell: (c) => {
      // A payload's rule (VBSA:V_L1GI_01): its payload and the clauses of the spec it bears on.
      const ev = c.row.original.evidence as {
        payload?: { name: string; version: string };
        relatedClauses?: string[];
      };
      return (
        <>
          <b className="mono">{c.getValue()}</b>
          {ev.payload ? (
            <span className="muted">
              <br />
              {ev.payload.name} {ev.payload.version}
              {ev.relatedClauses?.length ? ` · ${ev.relatedClauses.join(', ')}` : ''}
            </span>
          ) : null}
        </>
      );
    },
  }),
  vcol.accessor('level', { header: 'Level' }),
  vcol.accessor('verdict', {
    header: 'Verdict',
    cell: (c) => (
      <>
        <VerdictBadge verdict={c.getValue()} />
        {c.row.original.qualifier ? <span data-testid="qualifier"> ({c.row.original.qualifier})</span> : null}
      </>
    ),
  }),
  vcol.accessor('message', { header: 'Message' }),
  vcol.accessor('evidence', {
    header: 'Evidence',
    enableSorting: false,
    cell: (c) => <Json value={c.getValue()} />,
  }),
];

type Attempt = RunView['attempts'][number];

export function RunView({ run }: { run: RunView }) {
  const evidence = run.verdicts.map((v) => v.evidence);
  const stages = stagesOf(evidence);
  const transcriptAttempts = run.artifacts.filter((a) => a.name === CONSOLE).map((a) => a.attempt);
  const attemptColumns = useMemo(() => {
    const col = createColumnHelper<Attempt>();
    return [
      col.accessor('attempt', { header: '#' }),
      col.accessor('outcome', {
        header: 'Outcome',
        cell: (c) => {
          const o = c.getValue();
          return o === 'PASS' || o === 'FAIL' || o === 'ERROR' || o === 'SKIP' ? (
            <VerdictBadge verdict={o} />
          ) : (
            (o ?? 'running')
          );
        },
      }),
      col.accessor('error', { header: 'Error', cell: (c) => c.getValue() ?? '' }),
      col.accessor('agentId', {
        header: 'Agent',
        cell: (c) => <span className="mono">{c.getValue() ?? ''}</span>,
      }),
      col.accessor('startedAt', { header: 'Started', cell: (c) => formatTime(c.getValue()) }),
      col.accessor('durationMs', {
        header: 'Duration',
        cell: (c) => (c.getValue() === null ? '' : `${((c.getValue() ?? 0) / 1000).toFixed(1)} s`),
      }),
      col.display({
        id: 'artifacts',
        header: 'Artifacts',
        cell: (c) => (
          <span className="artifacts">
            {run.artifacts
              .filter((a) => a.attempt === c.row.original.attempt)
              .map((a) => (
                <a key={a.name} href={artifactUrl(run.id, a.attempt, a.name)} download={a.name}>
                  {a.name} ({a.size} B)
                </a>
              ))}
          </span>
        ),
      }),
    ];
  }, [run]);
  return (
    <>
      <h1>
        Run <span className="mono">{run.id}</span>
      </h1>
      <dl className="facts">
        <dt>Verdict</dt>
        <dd>
          <RunBadge state={run.state} verdict={run.verdict} />{' '}
          <span data-testid="run-state">{run.state}</span>
        </dd>
        <dt>Image</dt>
        <dd>
          <Link to={`/certification/images/${run.image}`} className="mono">
            {run.image.slice(0, 16)}
          </Link>
        </dd>
        <dt>Target</dt>
        <dd>
          <Link to={`/certification/targets/${run.target}`}>{run.target}</Link> ({run.targetKind})
        </dd>
        <dt>Suite</dt>
        <dd>{run.suite}</dd>
        <dt>Matrix</dt>
        <dd>
          <Link to={`/matrices/${run.matrixId}`} className="mono">
            {run.matrixId.slice(0, 12)}
          </Link>
        </dd>
        <dt>Finished</dt>
        <dd>{formatTime(run.finishedAt)}</dd>
      </dl>

      <h2>Verdicts</h2>
      <DataTable
        data={run.verdicts}
        columns={verdictColumns}
        label="verdicts"
        empty="No verdicts yet."
        className="table verdicts"
      />

      <h2>Attempts</h2>
      <DataTable data={run.attempts} columns={attemptColumns} label="attempts" empty="Not started yet." />

      {stages.length > 0 ? <Stages stages={stages} /> : null}

      <h2>Console</h2>
      {transcriptAttempts.length > 0 ? (
        <Transcript run={run} attempts={transcriptAttempts} matched={matchedLinesOf(evidence)} />
      ) : (
        <p className="muted">No console transcript: this run booted no VM (or has not yet).</p>
      )}
    </>
  );
}

function Stages({ stages }: { stages: { stage: string; ms: number }[] }) {
  const last = Math.max(...stages.map((s) => s.ms), 1);
  return (
    <>
      <h2>Stage timings</h2>
      <table className="table stages" aria-label="stage timings">
        <thead>
          <tr>
            <th scope="col">Stage</th>
            <th scope="col">Since VM start</th>
            <th scope="col" className="stage-bar-col" />
          </tr>
        </thead>
        <tbody>
          {stages.map((s) => (
            <tr key={s.stage}>
              <td>{s.stage}</td>
              <td>{(s.ms / 1000).toFixed(2)} s</td>
              <td className="stage-bar-col">
                <span className="stage-bar" style={{ width: `${(s.ms / last) * 100}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The transcript of the last attempt by default; the lines the verdicts quote are highlighted. */
function Transcript({ run, attempts, matched }: { run: RunView; attempts: number[]; matched: string[] }) {
  const [attempt, setAttempt] = useState(Math.max(...attempts));
  const text = useLoad(`console:${run.id}:${attempt}`, () => artifactText(run.id, attempt, CONSOLE));
  const lines = useMemo(() => transcriptLines(text.data ?? '', matched), [text.data, matched]);
  return (
    <>
      {attempts.length > 1 ? (
        <p>
          Attempt{' '}
          {attempts.map((a) => (
            <button key={a} type="button" onClick={() => setAttempt(a)} aria-pressed={a === attempt}>
              {a}
            </button>
          ))}
        </p>
      ) : null}
      {text.error ? <ErrorBox error={text.error} /> : null}
      <p className="muted">
        {lines.filter((l) => l.matched).length} of {lines.length} lines are quoted by the verdicts:
        highlighted and marked ▶.
      </p>
      <pre className="console" aria-label="console transcript">
        {lines.map((l) =>
          l.matched ? (
            <mark key={l.n} data-line={l.n}>
              <span className="ln">▶{l.n}</span>
              {l.text}
              {'\n'}
            </mark>
          ) : (
            <span key={l.n} data-line={l.n}>
              <span className="ln">{l.n}</span>
              {l.text}
              {'\n'}
            </span>
          ),
        )}
      </pre>
    </>
  );
}
