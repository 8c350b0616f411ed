import type { Verdict } from '@vmfarm/protocol';
import type { Change, HistorySeries, Regressions, TrendPoint } from './api';

export interface ChangeRow extends Change {
  kind: 'regression' | 'fix' | 'error';
}

const order = (a: Change, b: Change) =>
  a.imageName.localeCompare(b.imageName) ||
  a.targetId.localeCompare(b.targetId) ||
  a.clause.localeCompare(b.clause);

/** Regressions first (what needs attention), then fixes, each by image, target and clause. */
export function changeRows(
  r: Pick<Regressions, 'regressions' | 'fixes'> & Partial<Regressions>,
): ChangeRow[] {
  return [
    ...[...r.regressions].sort(order).map((c) => ({ ...c, kind: 'regression' as const })),
    ...[...r.fixes].sort(order).map((c) => ({ ...c, kind: 'fix' as const })),
  ];
}

export interface HistoryRow {
  imageName: string;
  targetId: string;
  clause: string;
  latest: Verdict | null;
  latestVersion: string | null;
  /** Oldest first, for the verdict strip. */
  verdicts: Verdict[];
  firstFailure: string | null;
  lastPass: string | null;
  fixedAt: string | null;
}

export function historyRows(series: readonly HistorySeries[]): HistoryRow[] {
  return series.map((s) => {
    const points = [...s.points].sort((a, b) => a.at.localeCompare(b.at));
    const last = points.at(-1);
    return {
      imageName: s.imageName,
      targetId: s.targetId,
      clause: s.clause,
      latest: last?.verdict ?? null,
      latestVersion: last?.imageVersion ?? null,
      verdicts: points.map((p) => p.verdict),
      firstFailure: s.firstFailure ?? null,
      lastPass: s.lastPass ?? null,
      fixedAt: s.fixedAt ?? null,
    };
  });
}

export interface TrendDatum {
  label: string;
  matrixId: string;
  /** 0–100, for the chart's percent axis; null when the matrix judged nothing but SKIPs (a gap). */
  passRate: number | null;
  pass: number;
  fail: number;
  error: number;
  skip: number;
}

/**
 * The server's passRate is a fraction (0–1), null when nothing passed, failed or erred; the chart
 * plots percent, oldest first.
 */
export function trendData(points: readonly TrendPoint[]): TrendDatum[] {
  return [...points]
    .sort((a, b) => a.at.localeCompare(b.at))
    .map((p) => ({
      label: formatTime(p.at),
      matrixId: p.matrixId,
      passRate: p.passRate === null ? null : Math.round(p.passRate * 1000) / 10,
      pass: p.pass,
      fail: p.fail,
      error: p.error,
      skip: p.skip,
    }));
}

/** ISO timestamps as `YYYY-MM-DD HH:MM` (UTC): compact, sortable, the same on every machine. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 16).replace('T', ' ');
}
