import { Injectable } from '@nestjs/common';
import type {
  KnownFailure,
  KnownIssueCreate,
  KnownIssuePatch,
  KnownIssueView,
  KnownRef,
  VerdictRecord,
} from '@vmfarm/protocol';
import { randomBytes } from 'node:crypto';
import type { Caller } from '../auth/caller';
import { ApiHttpError, badRequest, notFound, type FieldError } from '../errors';
import type { ClauseVerdictRow } from '../store/history.repository';
import { KnownIssuesRepository } from '../store/known-issues.repository';
import {
  issueState,
  KnownIssueMatcher,
  messagePatternProblem,
  recentMatches,
  type KnownIssue,
  type ScopedRun,
} from './known-issues';

/** How many recent verdict rows "possibly fixed" looks through per issue. */
const SCOPE_ROWS = 5000;

/** A run of a matrix, as annotation needs it. */
export interface AnnotatedRun {
  id: string;
  image: string;
  targetId: string;
  matrixOwner: string | null;
}

export interface ImageFacts {
  name: string;
  version: string | null;
  tags: readonly string[];
}

/**
 * Known issues: CRUD with tenancy (as schedules: a vendor's issue is its tenant's and explains only
 * its tenant's matrices; an admin's is public and explains every matrix), and the matching that
 * every view applies at the instant it is read, so an issue added later, closed or expired changes
 * what is shown without rewriting a verdict.
 */
@Injectable()
export class KnownIssuesService {
  constructor(private readonly issues: KnownIssuesRepository) {}

  private static problems(input: { expiresAt?: string | null; match?: { message?: string } }): FieldError[] {
    const errors: FieldError[] = [];
    const message = input.match?.message;
    const why = message === undefined ? undefined : messagePatternProblem(message);
    if (why) errors.push({ path: 'match.message', message: `not an RE2 pattern: ${why}` });
    if (input.expiresAt && Date.parse(input.expiresAt) <= Date.now())
      errors.push({ path: 'expiresAt', message: 'is in the past' });
    return errors;
  }

  private static refuse(errors: FieldError[]): void {
    if (errors.length)
      throw badRequest(`invalid known issue: ${errors[0].path}: ${errors[0].message}`, errors);
  }

  async create(input: KnownIssueCreate, caller: Caller): Promise<KnownIssueView> {
    KnownIssuesService.refuse(KnownIssuesService.problems(input));
    const now = new Date().toISOString();
    const issue: KnownIssue = {
      id: `ki-${randomBytes(4).toString('hex')}`,
      title: input.title,
      owner: input.owner,
      link: input.link ?? null,
      reason: input.reason,
      expiresAt: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
      match: input.match,
      fixedAfter: input.fixedAfter,
      tenant: caller.owner,
      version: 1,
      createdBy: caller.identity.name,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
    };
    await this.issues.insert(issue);
    return this.view(issue, new Date());
  }

  private async row(id: string, caller: Caller): Promise<KnownIssue> {
    const issue = await this.issues.get(id, caller);
    if (!issue) throw notFound(`no known issue ${id}`);
    return issue;
  }

  private async writable(id: string, caller: Caller): Promise<KnownIssue> {
    const issue = await this.row(id, caller);
    if (!caller.canWrite(issue.tenant))
      throw new ApiHttpError(403, `known issue ${id} is public: only an admin may change or close it`);
    return issue;
  }

  async get(id: string, caller: Caller): Promise<KnownIssueView> {
    return this.view(await this.row(id, caller), new Date());
  }

  /** Oldest first; closed ones only when asked. */
  async list(caller: Caller, includeClosed = false): Promise<KnownIssueView[]> {
    const now = new Date();
    const rows = (await this.issues.list(caller)).filter((i) => includeClosed || i.closedAt === null);
    return Promise.all(rows.map((i) => this.view(i, now)));
  }

  async update(id: string, patch: KnownIssuePatch, caller: Caller): Promise<KnownIssueView> {
    const old = await this.writable(id, caller);
    if (old.closedAt !== null) throw new ApiHttpError(409, `known issue ${id} is closed`);
    KnownIssuesService.refuse(KnownIssuesService.problems(patch));
    const issue: KnownIssue = {
      ...old,
      title: patch.title ?? old.title,
      owner: patch.owner ?? old.owner,
      link: patch.link === undefined ? old.link : patch.link,
      reason: patch.reason ?? old.reason,
      expiresAt:
        patch.expiresAt === undefined
          ? old.expiresAt
          : patch.expiresAt && new Date(patch.expiresAt).toISOString(),
      match: patch.match ?? old.match,
      fixedAfter: patch.fixedAfter ?? old.fixedAfter,
      version: old.version + 1,
      updatedAt: new Date().toISOString(),
    };
    if (!(await this.issues.update(issue))) throw notFound(`no known issue ${id}`);
    return this.view(issue, new Date());
  }

  /** A closed issue explains nothing any more; it stays listed (with `?all=true`) for the record. */
  async close(id: string, caller: Caller): Promise<KnownIssueView> {
    const old = await this.writable(id, caller);
    if (old.closedAt !== null) return this.view(old, new Date());
    const now = new Date().toISOString();
    const issue = { ...old, closedAt: now, updatedAt: now, version: old.version + 1 };
    await this.issues.update(issue);
    return this.view(issue, new Date());
  }

  /** What the issue's recent runs say: its last match and whether it may be fixed. */
  private async view(issue: KnownIssue, now: Date): Promise<KnownIssueView> {
    const state = issueState(issue, now);
    const scoped = await this.issues.scopedVerdicts(issue, SCOPE_ROWS);
    const tags = await this.issues.tagsOf(scoped.map((v) => v.imageSha256));
    // An expired or closed issue matches nothing now; its history is what it matched while active.
    const matcher = new KnownIssueMatcher([{ ...issue, closedAt: null, expiresAt: null }], now);
    const runs: ScopedRun[] = [];
    const index = new Map<string, ScopedRun>();
    for (const v of scoped) {
      const ctx = { ...v, imageTags: tags.get(v.imageSha256) ?? [] };
      if (!KnownIssueMatcher.inScope(issue, ctx)) continue;
      let run = index.get(v.runId);
      if (!run) {
        run = { runId: v.runId, at: v.at, matched: false };
        index.set(v.runId, run);
        runs.push(run);
      }
      run.matched ||= matcher.explainsBy(issue.id, ctx);
    }
    const recent = recentMatches(issue.fixedAfter, runs);
    return {
      ...issue,
      state,
      ...recent,
      runsSinceMatch: Math.min(recent.runsSinceMatch, issue.fixedAfter),
      possiblyFixed: state === 'active' && recent.possiblyFixed,
    };
  }

  /** The issues in force now, compiled. */
  async matcher(now = new Date(), includeExpired = false): Promise<KnownIssueMatcher> {
    return new KnownIssueMatcher(await this.issues.open(), now, includeExpired);
  }

  /** The tags of images, for the tag patterns. */
  tagsOf(shas: readonly string[]): Promise<Map<string, string[]>> {
    return this.issues.tagsOf(shas);
  }

  /** Per run, per verdict (in order), the known issues that explain it (empty unless a FAIL). */
  static annotate(
    matcher: KnownIssueMatcher,
    runs: readonly AnnotatedRun[],
    verdicts: ReadonlyMap<string, readonly VerdictRecord[]>,
    images: ReadonlyMap<string, ImageFacts>,
  ): Map<string, KnownRef[][]> {
    const out = new Map<string, KnownRef[][]>();
    for (const run of runs) {
      const image = images.get(run.image);
      out.set(
        run.id,
        (verdicts.get(run.id) ?? []).map((v) =>
          v.verdict !== 'FAIL' || !image
            ? []
            : matcher.explain({
                clause: v.clause,
                verdict: v.verdict,
                message: v.message,
                targetId: run.targetId,
                imageName: image.name,
                imageVersion: image.version,
                imageTags: image.tags,
                matrixOwner: run.matrixOwner,
              }),
        ),
      );
    }
    return out;
  }

  /**
   * The FAIL clauses of a run known issues explain (every FAIL of the clause explained; the
   * issues of them all) and those they do not.
   */
  static split(
    verdicts: readonly VerdictRecord[],
    explained: readonly KnownRef[][],
  ): { known: KnownFailure[]; unexplained: string[] } {
    const byClause = new Map<string, { issues: Map<string, KnownRef>; all: boolean }>();
    for (const [i, v] of verdicts.entries()) {
      if (v.verdict !== 'FAIL') continue;
      const c = byClause.get(v.clause) ?? { issues: new Map(), all: true };
      const refs = explained[i] ?? [];
      if (refs.length === 0) c.all = false;
      for (const r of refs) c.issues.set(r.id, r);
      byClause.set(v.clause, c);
    }
    const entries = [...byClause];
    return {
      known: entries
        .filter(([, c]) => c.all)
        .map(([clause, c]) => ({ clause, issues: [...c.issues.values()] })),
      unexplained: entries.filter(([, c]) => !c.all).map(([clause]) => clause),
    };
  }

  /** An explain function over history rows (regressions, certification). */
  static explainer(
    matcher: KnownIssueMatcher,
    tags: ReadonlyMap<string, readonly string[]>,
  ): (row: ClauseVerdictRow) => KnownRef[] {
    return (r) =>
      matcher.explain({
        clause: r.clause,
        verdict: r.verdict,
        message: r.message,
        targetId: r.targetId,
        imageName: r.imageName,
        imageVersion: r.imageVersion,
        imageTags: tags.get(r.imageSha256) ?? [],
        matrixOwner: r.matrixOwner,
      });
  }
}
