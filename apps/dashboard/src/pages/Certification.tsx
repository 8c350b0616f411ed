import { createColumnHelper } from '@tanstack/react-table';
import { Link, useParams } from 'react-router';
import { api, type CertificationEntry } from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, Json, MarkBadge } from '../components/ui';
import { useLoad } from '../hooks';
import { certificationMark } from '../verdicts';
import { imageLabel } from '../grid';

const col = createColumnHelper<CertificationEntry>();
const columns = [
  col.accessor('clause', { header: 'Clause', cell: (c) => <b className="mono">{c.getValue()}</b> }),
  col.accessor('level', { header: 'Level' }),
  col.accessor('subject', { header: 'Subject' }),
  col.accessor('requirement', { header: 'Requirement', cell: (c) => c.getValue() ?? '' }),
  col.accessor('verdict', {
    header: 'Verdict',
    cell: (c) => (
      <>
        <MarkBadge mark={certificationMark(c.getValue())} /> {certificationMark(c.getValue()).word}
      </>
    ),
  }),
  col.accessor('message', { header: 'Message', cell: (c) => c.getValue() ?? '' }),
  col.accessor('evidence', {
    header: 'Evidence',
    enableSorting: false,
    cell: (c) => {
      const e = c.getValue();
      return e && Object.keys(e).length > 0 ? <Json value={e} /> : '';
    },
  }),
  col.accessor('runId', {
    header: 'Run',
    cell: (c) => {
      const id = c.getValue();
      return id ? (
        <Link to={`/runs/${id}`} className="mono">
          {id.slice(0, 12)}
        </Link>
      ) : (
        ''
      );
    },
  }),
  col.accessor('at', { header: 'Judged', cell: (c) => formatTime(c.getValue()) }),
];

function Summary({ entries }: { entries: CertificationEntry[] }) {
  const count = (v: CertificationEntry['verdict']) => entries.filter((e) => e.verdict === v).length;
  const mustFailed = entries.filter((e) => e.level === 'MUST' && e.verdict === 'FAIL').map((e) => e.clause);
  return (
    <p className="summary">
      {entries.length} clauses: {count('PASS')} PASS, {count('FAIL')} FAIL, {count('ERROR')} ERROR,{' '}
      {count('SKIP')} SKIP, {count('NOT-RUN')} not run, {count('NOT-COVERED')} not covered by any suite.{' '}
      {mustFailed.length > 0 ? <b>MUST clauses failed: {mustFailed.join(', ')}.</b> : null}
    </p>
  );
}

function Report({
  title,
  subtitle,
  entries,
}: {
  title: string;
  subtitle: string;
  entries: CertificationEntry[];
}) {
  return (
    <article className="certification">
      <h1>{title}</h1>
      <p className="muted">
        {subtitle} · generated {formatTime(new Date().toISOString())} · every clause of the ARM VM System
        Specification with its latest verdict
      </p>
      <p className="no-print">
        <button type="button" onClick={() => window.print()}>
          Print / save as PDF
        </button>
      </p>
      <Summary entries={entries} />
      <DataTable
        data={entries}
        columns={columns}
        label="certification"
        empty="No clauses."
        className="table cert"
      />
    </article>
  );
}

export function TargetCertification() {
  const { id = '' } = useParams();
  const cert = useLoad(`cert:target:${id}`, () => api.targetCertification(id));
  return (
    <Async loaded={cert}>
      {(c) => (
        <Report title={`Certification: target ${id}`} subtitle="VM implementation" entries={c.clauses} />
      )}
    </Async>
  );
}

export function ImageCertification() {
  const { sha256 = '' } = useParams();
  const image = useLoad(`image:${sha256}`, () => api.image(sha256));
  const cert = useLoad(`cert:image:${sha256}`, () => api.imageCertification(sha256));
  return (
    // The image itself answers 404 to a tenant that does not own it: say so rather than an empty report.
    <Async loaded={image}>
      {(img) => (
        <Async loaded={cert}>
          {(c) => (
            <Report
              title={`Certification: image ${imageLabel(sha256, img)}`}
              subtitle={`disk image ${sha256}`}
              entries={c.clauses}
            />
          )}
        </Async>
      )}
    </Async>
  );
}

export function CertificationIndex() {
  const targets = useLoad('targets', api.targets);
  const images = useLoad('images', api.images);
  return (
    <section>
      <h1>Certification</h1>
      <h2>Targets (for hypervisor vendors)</h2>
      <Async loaded={targets}>
        {(list) => (
          <ul>
            {list.map((t) => (
              <li key={t.id}>
                <Link to={`/certification/targets/${t.id}`}>{t.id}</Link>{' '}
                <span className="muted">({t.kind})</span>
              </li>
            ))}
          </ul>
        )}
      </Async>
      <h2>Images (for distro vendors)</h2>
      <Async loaded={images}>
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No images.</p>
          ) : (
            <ul>
              {list.map((i) => (
                <li key={i.sha256}>
                  <Link to={`/certification/images/${i.sha256}`}>{imageLabel(i.sha256, i)}</Link>{' '}
                  <span className="muted mono">{i.sha256.slice(0, 12)}</span>
                </li>
              ))}
            </ul>
          )
        }
      </Async>
    </section>
  );
}
