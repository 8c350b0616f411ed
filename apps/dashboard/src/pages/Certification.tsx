import { createColumnHelper } from '@tanstack/react-table';
import { useMemo } from 'react';
import { Link, useParams } from 'react-router';
import {
  api,
  fetchImages,
  PAGE,
  type Certification,
  type CertificationEntry,
  type CertificationVerdict,
  type Image,
} from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async, Json, MarkBadge } from '../components/ui';
import { useLoad } from '../hooks';
import { certificationMark, verdictMark } from '../verdicts';
import { imageLabel } from '../grid';

const col = createColumnHelper<CertificationEntry>();

type PayloadRule = Certification['payloads'][number]['rules'][number];

/** A payload rule's verdict in words: PASS (PARTIAL) and PASS (WARNING) are shown as such. */
const ruleWord = (r: PayloadRule) => (r.qualifier ? `${r.verdict} (${r.qualifier})` : r.verdict);

/** The payload rules that bear on each clause (from the payloads' manifests), under name and version. */
function rulesByClause(cert: Certification): Map<string, { payload: string; rule: PayloadRule }[]> {
  const out = new Map<string, { payload: string; rule: PayloadRule }[]>();
  for (const p of cert.payloads)
    for (const rule of p.rules)
      for (const c of rule.relatedClauses)
        out.set(c, [...(out.get(c) ?? []), { payload: `${p.name} ${p.version}`, rule }]);
  return out;
}

function RuleBadge({ rule }: { rule: PayloadRule }) {
  const mark = verdictMark(rule.verdict);
  return (
    <span data-testid="payload-rule" data-rule={rule.rule}>
      <MarkBadge mark={{ ...mark, word: ruleWord(rule) }} /> <span className="mono">{rule.rule}</span>{' '}
      {ruleWord(rule)}
    </span>
  );
}

/** Each payload's rules as last judged, under the payload's name and version. */
function PayloadSections({ cert }: { cert: Certification }) {
  if (cert.payloads.length === 0) return null;
  return (
    <>
      {cert.payloads.map((p) => (
        <section key={`${p.name} ${p.version}`} data-testid="payload-section">
          <h2>
            Third-party payload: {p.name} {p.version}
          </h2>
          <p className="muted">
            {p.rules.length} rules; {p.rules.filter((r) => r.verdict === 'PASS').length} PASS (
            {p.rules.filter((r) => r.qualifier).length} with a qualifier),{' '}
            {p.rules.filter((r) => r.verdict === 'FAIL').length} FAIL,{' '}
            {p.rules.filter((r) => r.verdict === 'SKIP').length} SKIP,{' '}
            {p.rules.filter((r) => r.verdict === 'ERROR').length} ERROR
          </p>
          <table className="table">
            <thead>
              <tr>
                <th>Rule</th>
                <th>Related clauses</th>
                <th>Message</th>
                <th>Run</th>
              </tr>
            </thead>
            <tbody>
              {p.rules.map((r) => (
                <tr key={r.rule}>
                  <td>
                    <RuleBadge rule={r} />
                  </td>
                  <td className="mono">{r.relatedClauses.join(', ') || '—'}</td>
                  <td>{r.message}</td>
                  <td>
                    <Link to={`/runs/${r.runId}`} className="mono" title={r.runId}>
                      run {r.runId.slice(0, 8)}
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}

/** What judged a clause: the run's other side (a target's image, an image's target), suite, run, time. */
function Judged({
  e,
  kind,
  images,
}: {
  e: CertificationEntry;
  kind: Certification['kind'];
  images: ReadonlyMap<string, Image>;
}) {
  if (!e.runId) return <>—</>;
  return (
    <span className="judged">
      {kind === 'target' && e.imageSha256 ? (
        <Link to={`/certification/images/${e.imageSha256}`} title={e.imageSha256}>
          {imageLabel(e.imageSha256, images.get(e.imageSha256))}
        </Link>
      ) : null}
      {kind === 'image' && e.targetId ? (
        <Link to={`/certification/targets/${e.targetId}`}>{e.targetId}</Link>
      ) : null}
      {e.suite ? <span>suite {e.suite}</span> : null}
      <Link to={`/runs/${e.runId}`} className="mono" title={e.runId}>
        run {e.runId.slice(0, 8)}
      </Link>
      <span>{formatTime(e.at)}</span>
    </span>
  );
}

function columns(
  kind: Certification['kind'],
  images: ReadonlyMap<string, Image>,
  related: ReadonlyMap<string, { payload: string; rule: PayloadRule }[]>,
) {
  return [
    col.accessor('clause', {
      header: 'Clause',
      cell: (c) => (
        <>
          <b className="mono">{c.getValue()}</b>
          <br />
          <span className="muted">{c.row.original.section}</span>
        </>
      ),
    }),
    col.accessor('level', { header: 'Level' }),
    col.accessor('requirement', { header: 'Requirement' }),
    col.accessor('verdict', {
      header: 'Verdict',
      cell: (c) => {
        const waivers = c.row.original.waivedBy;
        const mark = certificationMark(c.getValue());
        // A waived clause stays a FAIL, shown apart with the waiver that explains it.
        if (waivers.length > 0)
          return (
            <span className="waived" data-testid="waived">
              <MarkBadge mark={{ ...mark, tone: 'known', word: 'FAIL (waived)' }} /> FAIL, waived by{' '}
              {waivers.map((w) => (
                <Link key={w.id} to={`/known-issues#${w.id}`}>
                  {w.title}
                </Link>
              ))}
            </span>
          );
        return (
          <>
            <MarkBadge mark={mark} /> {mark.word}
          </>
        );
      },
    }),
    col.accessor('message', { header: 'Message', cell: (c) => c.getValue() ?? '' }),
    // Beside each clause, the third-party rules that bear on it (VBSA's V_L1GI_* on PLAT-GIC).
    col.display({
      id: 'payload-rules',
      header: 'Payload rules',
      cell: (c) =>
        (related.get(c.row.original.clause) ?? []).map(({ payload, rule }) => (
          <div key={`${payload} ${rule.rule}`} title={`${payload}: ${rule.message}`}>
            <span className="muted">{payload}</span> <RuleBadge rule={rule} />
          </div>
        )),
    }),
    col.accessor('evidence', {
      header: 'Evidence',
      enableSorting: false,
      cell: (c) => {
        const e = c.getValue();
        return e && Object.keys(e).length > 0 ? <Json value={e} /> : '';
      },
    }),
    // Sorted by time; drawn from the row and the images (TanStack caches accessor values per row,
    // and the images' names may arrive after the report).
    col.accessor((e) => e.at ?? '', {
      id: 'judged',
      header: kind === 'target' ? 'Judged on image' : 'Judged on target',
      cell: (c) => <Judged e={c.row.original} kind={kind} images={images} />,
    }),
  ];
}

/** The server's counts: every clause of the catalogue is in exactly one of them. */
function Summary({ cert }: { cert: Certification }) {
  const n = (v: CertificationVerdict) => cert.counts[v] ?? 0;
  const mustFailed = cert.clauses
    .filter((e) => e.level === 'MUST' && e.verdict === 'FAIL')
    .map((e) => e.clause);
  const waived = cert.clauses.filter((e) => e.waivedBy.length > 0).length;
  return (
    <p className="summary" data-testid="certification-summary">
      {cert.clauses.length} clauses: {n('PASS')} PASS, {n('FAIL')} FAIL, {n('ERROR')} ERROR, {n('SKIP')} SKIP,{' '}
      {n('NOT-RUN')} not run, {n('NOT-COVERED')} not covered by any suite.{' '}
      {mustFailed.length > 0 ? <b>MUST clauses failed: {mustFailed.join(', ')}.</b> : null}
      {cert.waivers.length > 0 ? (
        <>
          {' '}
          <b data-testid="waivers">
            Not all PASS: {waived} clause{waived === 1 ? '' : 's'} FAIL under a waiver in force (
            {cert.waivers.map((w) => w.title).join('; ')}).
          </b>
        </>
      ) : cert.allPass ? (
        <>
          {' '}
          <b>Every covered clause PASS.</b>
        </>
      ) : null}
    </p>
  );
}

function Report({ cert, subtitle }: { cert: Certification; subtitle: string }) {
  const images = useLoad('images', imagesBySha);
  const related = useMemo(() => rulesByClause(cert), [cert]);
  const cols = useMemo(
    () => columns(cert.kind, images.data ?? new Map(), related),
    [cert.kind, images.data, related],
  );
  const what = cert.version ? `${cert.name} ${cert.version}` : cert.name;
  return (
    <article className="certification">
      <h1>
        Certification: {cert.kind} {what}
      </h1>
      <p className="muted">
        {subtitle} · generated {formatTime(cert.generatedAt)} · every clause of the ARM VM System
        Specification with its latest verdict
      </p>
      <p className="no-print">
        <button type="button" onClick={() => window.print()}>
          Print / save as PDF
        </button>
      </p>
      <Summary cert={cert} />
      <DataTable
        data={cert.clauses}
        columns={cols}
        label="certification"
        empty="No clauses."
        className="table cert"
      />
      <PayloadSections cert={cert} />
    </article>
  );
}

/** Images the caller may list name the runs' images; without them the report shows hash prefixes. */
async function imagesBySha(): Promise<Map<string, Image>> {
  const list = await fetchImages().catch(() => []);
  return new Map(list.map((i) => [i.sha256, i]));
}

export function TargetCertification() {
  const { id = '' } = useParams();
  const cert = useLoad(`cert:target:${id}`, () => api.getTargetCertification({ params: { id } }));
  return <Async loaded={cert}>{(c) => <Report cert={c} subtitle="VM implementation" />}</Async>;
}

export function ImageCertification() {
  const { sha256 = '' } = useParams();
  // An image the caller may not see is a 404 here too: the page says not found, not an empty report.
  const cert = useLoad(`cert:image:${sha256}`, () => api.getImageCertification({ params: { sha256 } }));
  return <Async loaded={cert}>{(c) => <Report cert={c} subtitle={`disk image ${sha256}`} />}</Async>;
}

export function CertificationIndex() {
  const targets = useLoad('targets', () => api.listTargets({ query: { limit: PAGE } }));
  const images = useLoad('images', fetchImages);
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
