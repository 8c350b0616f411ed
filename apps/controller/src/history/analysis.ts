import {
  PAYLOAD_RULE_ID,
  REQUIREMENTS,
  type CertificationPayload,
  type Clause,
  type HistoryPoint,
  type HistorySeries,
  type ImageResource,
  type KnownChange,
  type KnownRef,
  type TrendPoint,
  type TriagedCertificationClause,
  type TriagedRegressions,
  type Verdict,
  type VerdictChange,
} from '@vmfarm/protocol';
import type { ClauseVerdictRow } from '../store/history.repository';

/** Pure aggregation of clause verdicts: history series, trends, regressions, certification. */

/** Which of two verdicts for one clause speaks for both: a failure outweighs a farm error, a pass a skip. */
const WEIGHT: Record<Verdict, number> = { FAIL: 3, ERROR: 2, PASS: 1, SKIP: 0 };

export function worst(a: Verdict, b: Verdict): Verdict {
  return WEIGHT[b] > WEIGHT[a] ? b : a;
}

const key = (...parts: string[]) => parts.join('\u0000');

/** One row per (run, clause): a run that judged a clause more than once counts by its worst verdict. */
function perRunClause(rows: readonly ClauseVerdictRow[]): ClauseVerdictRow[] {
  const out = new Map<string, ClauseVerdictRow>();
  for (const r of rows) {
    const k = key(r.runId, r.clause);
    const seen = out.get(k);
    if (!seen || worst(seen.verdict, r.verdict) !== seen.verdict) out.set(k, r);
  }
  return [...out.values()];
}

/**
 * Series per (image name, target, clause), oldest point first. firstFailure is where the latest
 * failing streak began (ERROR and SKIP neither break nor start one: they say nothing of the subject);
 * fixedAt is the PASS that ended the last streak, when a PASS is the latest judgement.
 */
export function historySeries(rows: readonly ClauseVerdictRow[]): HistorySeries[] {
  const groups = new Map<string, { head: ClauseVerdictRow; points: HistoryPoint[] }>();
  for (const r of perRunClause(rows)) {
    const k = key(r.imageName, r.targetId, r.clause);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { head: r, points: [] }));
    g.points.push({
      at: r.at,
      matrixId: r.matrixId,
      runId: r.runId,
      imageSha256: r.imageSha256,
      imageVersion: r.imageVersion,
      verdict: r.verdict,
    });
  }
  const series = [...groups.values()].map(({ head, points }) => {
    points.sort((a, b) => a.at.localeCompare(b.at) || a.runId.localeCompare(b.runId));
    let firstFailure: string | null = null;
    let lastPass: string | null = null;
    let fixedAt: string | null = null;
    let failing = false;
    for (const p of points) {
      if (p.verdict === 'FAIL') {
        if (!failing) firstFailure = p.at;
        failing = true;
        fixedAt = null;
      } else if (p.verdict === 'PASS') {
        if (failing) fixedAt = p.at;
        failing = false;
        lastPass = p.at;
      }
    }
    return {
      imageName: head.imageName,
      targetId: head.targetId,
      clause: head.clause,
      points,
      firstFailure,
      lastPass,
      fixedAt,
    };
  });
  return series.sort(
    (a, b) =>
      a.imageName.localeCompare(b.imageName) ||
      a.targetId.localeCompare(b.targetId) ||
      a.clause.localeCompare(b.clause),
  );
}

/** Clause verdicts counted per matrix, oldest matrix first. */
export function trend(rows: readonly ClauseVerdictRow[]): TrendPoint[] {
  const byMatrix = new Map<string, TrendPoint>();
  for (const r of perRunClause(rows)) {
    let p = byMatrix.get(r.matrixId);
    if (!p)
      byMatrix.set(
        r.matrixId,
        (p = { at: r.matrixAt, matrixId: r.matrixId, pass: 0, fail: 0, error: 0, skip: 0, passRate: null }),
      );
    p[r.verdict.toLowerCase() as 'pass' | 'fail' | 'error' | 'skip']++;
  }
  return [...byMatrix.values()]
    .map((p) => {
      const judged = p.pass + p.fail + p.error;
      return { ...p, passRate: judged === 0 ? null : p.pass / judged };
    })
    .sort((a, b) => a.at.localeCompare(b.at) || a.matrixId.localeCompare(b.matrixId));
}

/** The verdict per (image name, target, clause) of one matrix, worst across its runs. */
function verdictsByName(rows: readonly ClauseVerdictRow[]): Map<string, ClauseVerdictRow> {
  const out = new Map<string, ClauseVerdictRow>();
  for (const r of rows) {
    const k = key(r.imageName, r.targetId, r.clause);
    const seen = out.get(k);
    if (!seen || worst(seen.verdict, r.verdict) !== seen.verdict) out.set(k, r);
  }
  return out;
}

/**
 * PASS → FAIL and FAIL → PASS between two matrices, keyed by image *name* so that a new version of an
 * image lines up with the one it replaced. Clauses judged in only one of them are neither. A
 * PASS → FAIL that a known issue explains (`explain`) is listed as known, not as a regression;
 * PASS → ERROR is listed apart (the farm broke, not the subject). Flaky cells are the caller's.
 */
export function compareMatrices(
  latest: { matrixId: string; at: string; rows: readonly ClauseVerdictRow[] } | null,
  previous: { matrixId: string; at: string; rows: readonly ClauseVerdictRow[] } | null,
  explain: (row: ClauseVerdictRow) => KnownRef[] = () => [],
): TriagedRegressions {
  const regressions: VerdictChange[] = [];
  const fixes: VerdictChange[] = [];
  const known: KnownChange[] = [];
  const errors: VerdictChange[] = [];
  if (latest && previous) {
    const before = verdictsByName(previous.rows);
    for (const [k, after] of [...verdictsByName(latest.rows)].sort(([a], [b]) => a.localeCompare(b))) {
      const prior = before.get(k);
      if (!prior) continue;
      const change: VerdictChange = {
        imageName: after.imageName,
        targetId: after.targetId,
        clause: after.clause,
        before: prior.verdict,
        after: after.verdict,
        runId: after.runId,
        previousRunId: prior.runId,
      };
      if (prior.verdict === 'PASS' && after.verdict === 'FAIL') {
        const issues = explain(after);
        if (issues.length > 0) known.push({ ...change, issues });
        else regressions.push(change);
      } else if (prior.verdict === 'FAIL' && after.verdict === 'PASS') fixes.push(change);
      else if (prior.verdict === 'PASS' && after.verdict === 'ERROR') errors.push(change);
    }
  }
  const ref = (m: { matrixId: string; at: string } | null) => m && { matrixId: m.matrixId, at: m.at };
  return { latest: ref(latest), previous: ref(previous), regressions, fixes, known, errors, flaky: [] };
}

/**
 * Every clause of the catalogue with the latest verdict that judged it (worst of ties), NOT-COVERED
 * when no suite able to run here cites it, NOT-RUN when one does but nothing has judged it yet. A
 * FAIL every latest failing run of which a known issue explains is waived by those issues: it stays
 * a FAIL, named.
 */
export function certify(
  catalogue: readonly Clause[],
  covered: ReadonlySet<string>,
  latest: readonly ClauseVerdictRow[],
  explain: (row: ClauseVerdictRow) => KnownRef[] = () => [],
): TriagedCertificationClause[] {
  const byClause = new Map<string, ClauseVerdictRow>();
  const fails = new Map<string, ClauseVerdictRow[]>();
  for (const r of latest) {
    const seen = byClause.get(r.clause);
    if (!seen || worst(seen.verdict, r.verdict) !== seen.verdict) byClause.set(r.clause, r);
    if (r.verdict === 'FAIL') fails.set(r.clause, [...(fails.get(r.clause) ?? []), r]);
  }
  const waivers = (clause: string): KnownRef[] => {
    const refs = new Map<string, KnownRef>();
    for (const r of fails.get(clause) ?? []) {
      const issues = explain(r);
      if (issues.length === 0) return [];
      for (const i of issues) refs.set(i.id, i);
    }
    return [...refs.values()];
  };
  return catalogue.map((c) => {
    const r = byClause.get(c.id);
    const base = {
      clause: c.id,
      subject: c.subject,
      level: c.level,
      section: c.section,
      requirement: REQUIREMENTS[c.id] ?? '',
    };
    if (!r)
      return {
        ...base,
        verdict: covered.has(c.id) ? 'NOT-RUN' : 'NOT-COVERED',
        message: null,
        evidence: null,
        suite: null,
        runId: null,
        matrixId: null,
        imageSha256: null,
        targetId: null,
        at: null,
        waivedBy: [],
      };
    return {
      ...base,
      verdict: r.verdict,
      message: r.message,
      evidence: r.evidence,
      suite: r.suite,
      runId: r.runId,
      matrixId: r.matrixId,
      imageSha256: r.imageSha256,
      targetId: r.targetId,
      at: r.at,
      waivedBy: r.verdict === 'FAIL' ? waivers(c.id) : [],
    };
  });
}

/** Versions compared as people read them: 1.10 after 1.9, 2026.02 after 2026.01. */
const collator = new Intl.Collator('en', { numeric: true });

/**
 * What a tag selector runs: per image name, the newest version (an image without a version is older
 * than any with one; equal versions fall back to upload time).
 */
export function newestPerName(images: readonly ImageResource[]): ImageResource[] {
  const best = new Map<string, ImageResource>();
  const newer = (a: ImageResource, b: ImageResource) => {
    if (a.version !== b.version) {
      if (a.version === null) return false;
      if (b.version === null) return true;
      const c = collator.compare(a.version, b.version);
      if (c !== 0) return c > 0;
    }
    return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.sha256 > b.sha256);
  };
  for (const image of images) {
    const seen = best.get(image.name);
    if (!seen || newer(image, seen)) best.set(image.name, image);
  }
  return [...best.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The payload rules among the latest verdicts (`VBSA:V_L1GI_01`), grouped by the payload's name
 * and version as their evidence names them, rules in id order; a rule judged by several runs at
 * the same instant speaks by its worst verdict.
 */
export function payloadRules(latest: readonly ClauseVerdictRow[]): CertificationPayload[] {
  const groups = new Map<string, CertificationPayload>();
  const rules = new Map<string, CertificationPayload['rules'][number]>();
  for (const r of latest) {
    if (!PAYLOAD_RULE_ID.test(r.clause)) continue;
    const p = r.evidence.payload as { name?: unknown; version?: unknown } | undefined;
    if (typeof p?.name !== 'string' || typeof p.version !== 'string') continue;
    const k = key(p.name, p.version);
    if (!groups.has(k)) groups.set(k, { name: p.name, version: p.version, rules: [] });
    const seen = rules.get(key(k, r.clause));
    if (seen && worst(seen.verdict, r.verdict) === seen.verdict) continue;
    const related = Array.isArray(r.evidence.relatedClauses) ? (r.evidence.relatedClauses as string[]) : [];
    rules.set(key(k, r.clause), {
      rule: r.clause,
      verdict: r.verdict,
      ...(r.qualifier === 'PARTIAL' || r.qualifier === 'WARNING' ? { qualifier: r.qualifier } : {}),
      message: r.message,
      relatedClauses: related,
      runId: r.runId,
      at: r.at,
    });
  }
  for (const [k, rule] of rules) groups.get(k.slice(0, k.lastIndexOf('\u0000')))!.rules.push(rule);
  for (const g of groups.values()) g.rules.sort((a, b) => (a.rule < b.rule ? -1 : 1));
  return [...groups.values()].sort((a, b) => (key(a.name, a.version) < key(b.name, b.version) ? -1 : 1));
}
