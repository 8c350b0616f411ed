import { DEFAULT_RETRIES, type PolicyScope } from '@vmfarm/protocol';

/** A policy as stored: each field null when the scope leaves it to a wider one. */
export interface PolicyRow {
  scope: PolicyScope;
  retries: number | null;
  keepDays: number | null;
  keepMatrices: number | null;
  updatedAt: string;
}

export interface RetentionRule {
  keepDays: number | null;
  keepMatrices: number | null;
  /** Which scope set it, for the deletion log. */
  label: string;
}

const DAY_MS = 86_400_000;

export function scopeLabel(scope: PolicyScope): string {
  if (scope.kind === 'farm') return 'farm';
  return scope.kind === 'tenant' ? `tenant ${scope.tenant}` : `schedule ${scope.scheduleId}`;
}

/** The policies that speak for a matrix of this schedule and owner, most specific first. */
function chain(policies: readonly PolicyRow[], scheduleId: string | null, owner: string | null): PolicyRow[] {
  const find = (p: (s: PolicyScope) => boolean) => policies.find((x) => p(x.scope));
  return [
    scheduleId === null ? undefined : find((s) => s.kind === 'schedule' && s.scheduleId === scheduleId),
    owner === null ? undefined : find((s) => s.kind === 'tenant' && s.tenant === owner),
    find((s) => s.kind === 'farm'),
  ].filter((x): x is PolicyRow => x !== undefined);
}

/**
 * Retention of a schedule's (or a tenant's) matrices: the most specific scope that says anything
 * about retention says all of it (schedule, then tenant, then farm); null: keep everything.
 */
export function retentionFor(
  policies: readonly PolicyRow[],
  scheduleId: string | null,
  owner: string | null,
): RetentionRule | null {
  const p = chain(policies, scheduleId, owner).find((x) => x.keepDays !== null || x.keepMatrices !== null);
  return p ? { keepDays: p.keepDays, keepMatrices: p.keepMatrices, label: scopeLabel(p.scope) } : null;
}

/** Re-runs before a regression: the most specific scope that sets it, else one. */
export function retriesFor(
  policies: readonly PolicyRow[],
  scheduleId: string | null,
  owner: string | null,
): number {
  return chain(policies, scheduleId, owner).find((x) => x.retries !== null)?.retries ?? DEFAULT_RETRIES;
}

export interface RetentionMatrix {
  id: string;
  createdAt: string;
  owner: string | null;
  scheduleId: string | null;
  /** Every run done: a matrix still running is never past retention. */
  done: boolean;
}

function describe(rule: RetentionRule): string {
  const parts = [
    rule.keepDays === null ? null : `older than ${rule.keepDays} day${rule.keepDays === 1 ? '' : 's'}`,
    rule.keepMatrices === null ? null : `not among the newest ${rule.keepMatrices}`,
  ].filter(Boolean);
  return `${rule.label}: ${parts.join(' and ')}`;
}

/**
 * The matrices past retention, with why. A matrix's series is its schedule's matrices, or its
 * tenant's matrices submitted by hand; it is kept while younger than keepDays or among the newest
 * keepMatrices of its series (either keeps it), and always while it runs.
 */
export function expiredMatrices(
  matrices: readonly RetentionMatrix[],
  policies: readonly PolicyRow[],
  now: Date,
): Map<string, string> {
  const series = new Map<string, RetentionMatrix[]>();
  for (const m of matrices) {
    const key = m.scheduleId !== null ? `s:${m.scheduleId}` : `t:${m.owner ?? ''}`;
    series.set(key, [...(series.get(key) ?? []), m]);
  }
  const expired = new Map<string, string>();
  for (const list of series.values()) {
    list.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
    for (const [rank, m] of list.entries()) {
      const rule = retentionFor(policies, m.scheduleId, m.owner);
      if (!rule || !m.done) continue;
      const young =
        rule.keepDays !== null && now.getTime() - Date.parse(m.createdAt) < rule.keepDays * DAY_MS;
      const recent = rule.keepMatrices !== null && rank < rule.keepMatrices;
      if (!young && !recent) expired.set(m.id, describe(rule));
    }
  }
  return expired;
}

export interface RetentionImage {
  sha256: string;
  owner: string | null;
  createdAt: string;
  /** The matrices that ran it. */
  usedBy: readonly string[];
  /** A schedule names it or would pick it next, or a run of it is not done. */
  pinned: boolean;
}

/**
 * Image bytes no longer referenced: not pinned, every matrix that ran it past retention (or none
 * ran it), and older than its tenant's (or the farm's) keepDays when one is set. An image no
 * matrix ran goes only by keepDays.
 */
export function removableImages(
  images: readonly RetentionImage[],
  expired: ReadonlyMap<string, string>,
  policies: readonly PolicyRow[],
  now: Date,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const image of images) {
    if (image.pinned || !image.usedBy.every((m) => expired.has(m))) continue;
    const rule = retentionFor(policies, null, image.owner);
    const days = rule?.keepDays ?? null;
    const old = days !== null && now.getTime() - Date.parse(image.createdAt) >= days * DAY_MS;
    if (image.usedBy.length === 0) {
      if (old) out.set(image.sha256, `${rule!.label}: older than ${days} days, run by no matrix`);
    } else if (days === null || old)
      out.set(image.sha256, `every matrix that ran it is past retention (${expired.get(image.usedBy[0])})`);
  }
  return out;
}
