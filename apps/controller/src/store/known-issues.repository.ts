import { Inject, Injectable } from '@nestjs/common';
import type { KnownIssueMatch, Verdict } from '@vmfarm/protocol';
import { sql, type Selectable, type SqlBool } from 'kysely';
import type { Caller } from '../auth/caller';
import { globToLike } from '../triage/glob';
import type { KnownIssue } from '../triage/known-issues';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { KnownIssuesTable } from './schema';
import { DB } from './tokens';

function toIssue(r: Selectable<KnownIssuesTable>): KnownIssue {
  return {
    id: r.id,
    title: r.title,
    owner: r.owner,
    link: r.link,
    reason: r.reason,
    expiresAt: r.expires_at,
    match: JSON.parse(r.match) as KnownIssueMatch,
    fixedAfter: r.fixed_after,
    tenant: r.tenant,
    version: r.version,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    closedAt: r.closed_at,
  };
}

function toColumns(i: KnownIssue) {
  return {
    title: i.title,
    owner: i.owner,
    link: i.link,
    reason: i.reason,
    expires_at: i.expiresAt,
    match: JSON.stringify(i.match),
    fixed_after: i.fixedAfter,
    tenant: i.tenant,
    version: i.version,
    updated_at: i.updatedAt,
    closed_at: i.closedAt,
  };
}

/** A final clause verdict in a known issue's scope (what "possibly fixed" counts over). */
export interface ScopedVerdict {
  runId: string;
  at: string;
  clause: string;
  verdict: Verdict;
  message: string;
  targetId: string;
  imageSha256: string;
  imageName: string;
  imageVersion: string | null;
  matrixOwner: string | null;
}

/** SQL `col LIKE pattern ESCAPE '\'`, for a glob turned into a LIKE pre-filter. */
const like = (column: string, glob: string) =>
  sql<SqlBool>`${sql.ref(column)} like ${globToLike(glob)} escape '\\'`;

@Injectable()
export class KnownIssuesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(issue: KnownIssue): Promise<void> {
    await this.db
      .insertInto('known_issues')
      .values({
        id: issue.id,
        created_by: issue.createdBy,
        created_at: issue.createdAt,
        expiry_notified_at: null,
        ...toColumns(issue),
      })
      .execute();
  }

  /**
   * Writes every field but id and creation; a new expiry is announced again when it comes.
   * false when there is no such issue.
   */
  async update(issue: KnownIssue): Promise<boolean> {
    const result = await this.db
      .updateTable('known_issues')
      .set({ ...toColumns(issue), expiry_notified_at: null })
      .where('id', '=', issue.id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  private visible(caller: Caller) {
    return visibleRows(this.db.selectFrom('known_issues').selectAll(), caller, 'known_issues.tenant');
  }

  async get(id: string, caller: Caller): Promise<KnownIssue | undefined> {
    const row = await this.visible(caller).where('id', '=', id).executeTakeFirst();
    return row && toIssue(row);
  }

  /** Oldest first. */
  async list(caller: Caller): Promise<KnownIssue[]> {
    const rows = await this.visible(caller).orderBy('created_at').orderBy('id').execute();
    return rows.map(toIssue);
  }

  /** Issues not closed: the ones that may explain verdicts (or be announced as expired). */
  async open(): Promise<KnownIssue[]> {
    const rows = await this.db
      .selectFrom('known_issues')
      .selectAll()
      .where('closed_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toIssue);
  }

  /**
   * Claims the announcement of issues whose expiry has passed (once each, whichever controller
   * gets there first); returns those this call claimed.
   */
  async claimExpired(now: string): Promise<KnownIssue[]> {
    const due = await this.db
      .selectFrom('known_issues')
      .selectAll()
      .where('closed_at', 'is', null)
      .where('expiry_notified_at', 'is', null)
      .where('expires_at', '<=', now)
      .execute();
    const claimed: KnownIssue[] = [];
    for (const row of due) {
      const r = await this.db
        .updateTable('known_issues')
        .set({ expiry_notified_at: now })
        .where('id', '=', row.id)
        .where('expiry_notified_at', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) claimed.push(toIssue(row));
    }
    return claimed;
  }

  /**
   * The newest final clause verdicts an issue could be about (clause, target and image name
   * pre-filtered in SQL, at most `limit` rows; the caller applies the exact match), runs a retry
   * replaced left out.
   */
  async scopedVerdicts(issue: KnownIssue, limit: number): Promise<ScopedVerdict[]> {
    const m = issue.match;
    let q = this.db
      .selectFrom('verdicts')
      .innerJoin('runs', (j) =>
        j.onRef('runs.id', '=', 'verdicts.run_id').onRef('runs.final_attempt', '=', 'verdicts.attempt'),
      )
      .innerJoin('images', 'images.sha256', 'runs.image_sha256')
      .innerJoin('matrices', 'matrices.id', 'runs.matrix_id')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(selectFrom('runs as retry').select('retry.id').whereRef('retry.retry_of', '=', 'runs.id')),
        ),
      )
      .where(({ or }) => or(m.clauses.map((c) => like('verdicts.clause', c))));
    if (m.target !== undefined) q = q.where(like('runs.target_id', m.target));
    if (m.imageName !== undefined) q = q.where(like('images.name', m.imageName));
    if (issue.tenant !== null) q = q.where('matrices.owner', '=', issue.tenant);
    const rows = await q
      .select([
        'runs.id as run_id',
        'runs.finished_at',
        'verdicts.clause',
        'verdicts.verdict',
        'verdicts.message',
        'runs.target_id',
        'runs.image_sha256',
        'images.name as image_name',
        'images.version as image_version',
        'matrices.owner as matrix_owner',
      ])
      .orderBy('runs.finished_at', 'desc')
      .orderBy('runs.id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      runId: r.run_id,
      at: r.finished_at ?? '',
      clause: r.clause,
      verdict: r.verdict as Verdict,
      message: r.message,
      targetId: r.target_id,
      imageSha256: r.image_sha256,
      imageName: r.image_name,
      imageVersion: r.image_version,
      matrixOwner: r.matrix_owner,
    }));
  }

  /** The tags of these images (for tag patterns). */
  async tagsOf(shas: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(shas.map((s) => [s, []]));
    const unique = [...new Set(shas)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('image_tags')
        .select(['sha256', 'tag'])
        .where('sha256', 'in', unique.slice(i, i + 500))
        .orderBy('tag')
        .execute();
      for (const r of rows) out.get(r.sha256)?.push(r.tag);
    }
    return out;
  }
}
