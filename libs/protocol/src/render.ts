import type { ImageReport, MatrixCell, MatrixReport, Summary } from './report';
import type { VerdictRecord } from './verdict';

/** Per FAIL clause of a cell, the known issues that explain it, as "ki-…: title; …". */
function knownByClause(known: MatrixCell['known'] = []): Map<string, string> {
  return new Map(known.map((k) => [k.clause, k.issues.map((i) => `${i.id}: ${i.title}`).join('; ')]));
}

const LETTER: Record<string, string> = { PASS: 'P', FAIL: 'F', ERROR: 'E', SKIP: 'S' };

function evidenceLine(evidence: Record<string, unknown>): string {
  const parts = Object.entries(evidence).map(
    ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
  );
  const line = parts.join(' ');
  return line.length > 400 ? `${line.slice(0, 397)}...` : line;
}

function verdictLines(
  verdicts: readonly VerdictRecord[],
  known: ReadonlyMap<string, string> = new Map(),
): string[] {
  const knownNote = (v: VerdictRecord) =>
    v.verdict === 'FAIL' && known.has(v.clause) ? ` (known: ${known.get(v.clause)})` : '';
  return verdicts.flatMap((v) => [
    `  [${LETTER[v.verdict]}] ${v.verdict.padEnd(5)} ${v.clause.padEnd(20)} ${v.level.padEnd(6)} ${v.message}${knownNote(v)}`,
    ...(Object.keys(v.evidence).length > 0 ? [`        evidence: ${evidenceLine(v.evidence)}`] : []),
  ]);
}

function summaryLine(s: Summary): string {
  const tail = [
    s.mustFailures.length ? `MUST failures: ${s.mustFailures.join(', ')}` : '',
    s.warnings.length ? `warnings: ${s.warnings.join(', ')}` : '',
  ].filter(Boolean);
  const known = s.known ? `, ${s.known} known fail` : '';
  return `${s.result}: ${s.pass} pass, ${s.fail} fail${known}, ${s.error} error, ${s.skip} skip${tail.length ? ` (${tail.join('; ')})` : ''}`;
}

export function renderImageText(report: ImageReport): string {
  const { image } = report;
  return [
    `image ${image.sha256?.slice(0, 16) ?? '(sha256 not computed)'} ${image.format} ${image.size} bytes arch=${image.arch ?? 'unknown'}`,
    ...verdictLines(report.verdicts),
    summaryLine(report.summary),
    '',
  ].join('\n');
}

export function renderMatrixText(report: MatrixReport): string {
  const { matrix } = report;
  const lines = [`matrix ${matrix.id} ${matrix.state} ${matrix.progress.done}/${matrix.progress.total}`];
  for (const cell of report.cells) {
    lines.push(
      `${imageLabel(cell.image)} (${cell.image.sha256?.slice(0, 16)}) × ${cell.target} × ${cell.suite}: ${cell.state}` +
        `${cell.attempts > 1 ? ` (${cell.attempts} attempts)` : ''}` +
        `${cell.retryOf ? ` (retry of ${cell.retryOf})` : ''}${cell.supersededBy ? ` (replaced by retry ${cell.supersededBy})` : ''}` +
        ` ${cell.state === 'done' ? cell.summary.result : ''}`.trimEnd(),
    );
    lines.push(...verdictLines(cell.verdicts, knownByClause(cell.known)));
  }
  lines.push(summaryLine(report.summary), '');
  return lines.join('\n');
}

// XML 1.0 forbids most C0 control characters even when escaped.
// eslint-disable-next-line no-control-regex
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(XML_FORBIDDEN, '');
}

/** An image as a reader knows it: its name, and its version when it has one. */
function imageLabel(image: { name: string; version: string | null }): string {
  return image.version ? `${image.name} ${image.version}` : image.name;
}

function junitSuite(
  name: string,
  verdicts: readonly VerdictRecord[],
  properties: Record<string, string | null> = {},
  known: ReadonlyMap<string, string> = new Map(),
): string {
  const failures = verdicts.filter((v) => v.verdict === 'FAIL').length;
  const errors = verdicts.filter((v) => v.verdict === 'ERROR').length;
  const skipped = verdicts.filter((v) => v.verdict === 'SKIP').length;
  const cases = verdicts.map((v) => {
    const body = `${v.message}\n${JSON.stringify(v.evidence, null, 2)}`;
    // A known FAIL stays a failure, with the issue named in its message and as a property.
    const issue = v.verdict === 'FAIL' ? known.get(v.clause) : undefined;
    const message = issue ? `${v.message} (known: ${issue})` : v.message;
    const caseProperties = issue
      ? `<properties><property name="known-issue" value="${xml(issue)}"/></properties>`
      : '';
    const inner =
      v.verdict === 'FAIL'
        ? `${caseProperties}<failure message="${xml(message)}" type="${v.level}">${xml(body)}</failure>`
        : v.verdict === 'ERROR'
          ? `<error message="${xml(v.message)}">${xml(body)}</error>`
          : v.verdict === 'SKIP'
            ? `<skipped message="${xml(v.message)}"/>`
            : `<system-out>${xml(body)}</system-out>`;
    return `    <testcase classname="${xml(`${v.suite}.${v.level}`)}" name="${xml(v.clause)}">${inner}</testcase>`;
  });
  const props = Object.entries(properties).filter(([, v]) => v !== null);
  return [
    `  <testsuite name="${xml(name)}" tests="${verdicts.length}" failures="${failures}" errors="${errors}" skipped="${skipped}">`,
    ...(props.length
      ? [
          '    <properties>',
          ...props.map(([k, v]) => `      <property name="${xml(k)}" value="${xml(v!)}"/>`),
          '    </properties>',
        ]
      : []),
    ...cases,
    '  </testsuite>',
  ].join('\n');
}

export function renderImageJUnit(report: ImageReport): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuites name="vmfarm">',
    junitSuite(`image ${report.image.sha256 ?? ''}`, report.verdicts),
    '</testsuites>',
    '',
  ].join('\n');
}

export function renderMatrixJUnit(report: MatrixReport): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="vmfarm matrix ${xml(report.matrix.id)}">`,
    ...report.cells.map((c) =>
      junitSuite(
        `${imageLabel(c.image)} ${c.target} ${c.suite}`,
        c.verdicts,
        {
          'image.name': c.image.name,
          'image.version': c.image.version,
          'image.sha256': c.image.sha256,
          target: c.target,
          suite: c.suite,
          runId: c.runId,
          retryOf: c.retryOf,
          supersededBy: c.supersededBy,
        },
        knownByClause(c.known),
      ),
    ),
    '</testsuites>',
    '',
  ].join('\n');
}
