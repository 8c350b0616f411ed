import type { KnownIssueMatch, KnownIssueState, KnownRef } from '@vmfarm/protocol';
import { RE2 } from 're2-wasm';
import { globMatch } from './glob';

/** A known issue as stored. */
export interface KnownIssue {
  id: string;
  title: string;
  owner: string;
  link: string | null;
  reason: string;
  expiresAt: string | null;
  match: KnownIssueMatch;
  fixedAfter: number;
  /** Tenant; null: public (explains every matrix). */
  tenant: string | null;
  version: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

/** What a known issue is matched against: one clause verdict of a run, with its run's context. */
export interface VerdictContext {
  clause: string;
  verdict: string;
  message: string;
  targetId: string;
  imageName: string;
  imageVersion: string | null;
  imageTags: readonly string[];
  /** The owner of the run's matrix: a tenant's issue explains only that tenant's matrices. */
  matrixOwner: string | null;
}

export function issueState(issue: Pick<KnownIssue, 'closedAt' | 'expiresAt'>, now: Date): KnownIssueState {
  if (issue.closedAt !== null) return 'closed';
  if (issue.expiresAt !== null && Date.parse(issue.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

/** Why a message pattern cannot be used (RE2 syntax: no backreferences or lookaround), or undefined. */
export function messagePatternProblem(pattern: string): string | undefined {
  try {
    new RE2(pattern, 'u');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Verdict messages are matched on their first 64 KiB: RE2 is linear, this bounds the line. */
const MESSAGE_LIMIT = 64 * 1024;

interface Compiled {
  issue: KnownIssue;
  message?: RE2;
}

/**
 * Known issues compiled for matching at one instant. An issue explains a FAIL when it is active
 * (not closed, not expired), belongs to the matrix's tenant or is public, and every part of its
 * match holds: a clause pattern, the target, the image's name, version and a tag, the message.
 */
export class KnownIssueMatcher {
  private readonly compiled: Compiled[];

  /** `includeExpired`: also issues past their expiry (what the janitor keeps artifacts for). */
  constructor(issues: readonly KnownIssue[], now: Date, includeExpired = false) {
    this.compiled = issues
      .filter((i) => {
        const state = issueState(i, now);
        return state === 'active' || (includeExpired && state === 'expired');
      })
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .map((issue) => ({
        issue,
        message: issue.match.message === undefined ? undefined : new RE2(issue.match.message, 'u'),
      }));
  }

  get size(): number {
    return this.compiled.length;
  }

  /** Whether the verdict is one the issue is about, whatever its outcome (for "possibly fixed"). */
  static inScope(issue: KnownIssue, v: Omit<VerdictContext, 'verdict' | 'message'>): boolean {
    const m = issue.match;
    return (
      (issue.tenant === null || issue.tenant === v.matrixOwner) &&
      m.clauses.some((c) => globMatch(c, v.clause)) &&
      (m.target === undefined || globMatch(m.target, v.targetId)) &&
      (m.imageName === undefined || globMatch(m.imageName, v.imageName)) &&
      (m.imageVersion === undefined ||
        (v.imageVersion !== null && globMatch(m.imageVersion, v.imageVersion))) &&
      (m.imageTag === undefined || v.imageTags.some((t) => globMatch(m.imageTag!, t)))
    );
  }

  private static explains(c: Compiled, v: VerdictContext): boolean {
    return (
      v.verdict === 'FAIL' &&
      KnownIssueMatcher.inScope(c.issue, v) &&
      (c.message === undefined || c.message.test(v.message.slice(0, MESSAGE_LIMIT)))
    );
  }

  /** The issues that explain this verdict, oldest first; empty unless it is a FAIL one explains. */
  explain(v: VerdictContext): KnownRef[] {
    if (v.verdict !== 'FAIL') return [];
    return this.compiled
      .filter((c) => KnownIssueMatcher.explains(c, v))
      .map((c) => ({ id: c.issue.id, title: c.issue.title }));
  }

  /** Whether this one issue explains the verdict (it must be among the matcher's). */
  explainsBy(issueId: string, v: VerdictContext): boolean {
    const c = this.compiled.find((x) => x.issue.id === issueId);
    return c !== undefined && KnownIssueMatcher.explains(c, v);
  }
}

/** One run in an issue's scope, newest first, and whether a FAIL of it matched the issue. */
export interface ScopedRun {
  runId: string;
  at: string;
  matched: boolean;
}

/**
 * How an issue has fared lately: the newest run it explained, how many runs in its scope came
 * since (counted over what is given), and whether that is at least `fixedAfter`.
 */
export function recentMatches(
  fixedAfter: number,
  runsNewestFirst: readonly ScopedRun[],
): {
  lastMatchAt: string | null;
  lastMatchRunId: string | null;
  runsSinceMatch: number;
  possiblyFixed: boolean;
} {
  const i = runsNewestFirst.findIndex((r) => r.matched);
  const runsSinceMatch = i < 0 ? runsNewestFirst.length : i;
  return {
    lastMatchAt: i < 0 ? null : runsNewestFirst[i].at,
    lastMatchRunId: i < 0 ? null : runsNewestFirst[i].runId,
    runsSinceMatch,
    possiblyFixed: runsSinceMatch >= fixedAfter,
  };
}
