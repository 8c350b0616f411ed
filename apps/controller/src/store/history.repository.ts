import { Inject, Injectable } from '@nestjs/common';
import type { Level, Verdict } from '@vmfarm/protocol';
import type { ExpressionBuilder, SelectQueryBuilder } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { grantedTo } from './images.repository';
import { visibleRows } from './ownership';
import type { Database } from './schema';
import { DB } from './tokens';

/** One clause verdict of a run's final attempt, with what history keys and orders it by. */
export interface ClauseVerdictRow {
  matrixId: string;
  matrixAt: string;
  /** The matrix's tenant (null: public): a tenant's known issues explain only its matrices. */
  matrixOwner: string | null;
  scheduleId: string | null;
  runId: string;
  /** When the run finished. */
  at: string;
  imageSha256: string;
  imageName: string;
  imageVersion: string | null;
  targetId: string;
  suite: string;
  clause: string;
  level: Level;
  verdict: Verdict;
  message: string;
  evidence: Record<string, unknown>;
  /** A payload's PASS with a reservation (PARTIAL, WARNING). */
  qualifier?: string;
}

export interface HistoryFilter {
  scheduleId?: string;
  imageName?: string;
  imageSha256?: string;
  targetId?: string;
  clause?: string;
  matrixIds?: readonly string[];
}

type Joined = 'verdicts' | 'runs' | 'images' | 'matrices' | 'targets';

/**
 * Reads verdicts across matrices: history, trends, regressions and certification. Each use is one
 * method here, so that the filter on who may see which rows is in one place (joined).
 */
@Injectable()
export class HistoryRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /**
   * verdicts ⋈ runs (final attempt only) ⋈ images ⋈ matrices ⋈ user targets, filtered, and only
   * the rows the caller may see: for a vendor, runs of its own or public matrices on images and
   * targets it may see (bundled targets are in no table: public). A run a retry replaced is left
   * out: the retry's verdict is the cell's.
   */
  private joined(filter: HistoryFilter, caller: Caller) {
    let q = this.db
      .selectFrom('verdicts')
      .innerJoin('runs', (j) =>
        j.onRef('runs.id', '=', 'verdicts.run_id').onRef('runs.final_attempt', '=', 'verdicts.attempt'),
      )
      .innerJoin('images', 'images.sha256', 'runs.image_sha256')
      .innerJoin('matrices', 'matrices.id', 'runs.matrix_id')
      .leftJoin('targets', 'targets.id', 'runs.target_id')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(selectFrom('runs as retry').select('retry.id').whereRef('retry.retry_of', '=', 'runs.id')),
        ),
      );
    q = visibleRows(q, caller, 'matrices.owner');
    q = visibleRows(q, caller, 'images.owner', grantedTo);
    q = visibleRows(q, caller, 'targets.owner');
    if (filter.scheduleId !== undefined) q = q.where('matrices.schedule_id', '=', filter.scheduleId);
    if (filter.imageName !== undefined) q = q.where('images.name', '=', filter.imageName);
    if (filter.imageSha256 !== undefined) q = q.where('runs.image_sha256', '=', filter.imageSha256);
    if (filter.targetId !== undefined) q = q.where('runs.target_id', '=', filter.targetId);
    if (filter.clause !== undefined) q = q.where('verdicts.clause', '=', filter.clause);
    if (filter.matrixIds !== undefined)
      q = q.where('matrices.id', 'in', filter.matrixIds.length ? [...filter.matrixIds] : ['']);
    return q;
  }

  private static columns(q: SelectQueryBuilder<Database, Joined, object>) {
    return q.select([
      'matrices.id as matrix_id',
      'matrices.created_at as matrix_at',
      'matrices.owner as matrix_owner',
      'matrices.schedule_id',
      'runs.id as run_id',
      'runs.finished_at',
      'runs.image_sha256',
      'images.name as image_name',
      'images.version as image_version',
      'runs.target_id',
      'verdicts.suite',
      'verdicts.clause',
      'verdicts.level',
      'verdicts.verdict',
      'verdicts.message',
      'verdicts.evidence',
      'verdicts.qualifier',
    ]);
  }

  private static toRow(r: {
    matrix_id: string;
    matrix_at: string;
    matrix_owner: string | null;
    schedule_id: string | null;
    run_id: string;
    finished_at: string | null;
    image_sha256: string;
    image_name: string;
    image_version: string | null;
    target_id: string;
    suite: string;
    clause: string;
    level: string;
    verdict: string;
    message: string;
    evidence: string;
    qualifier: string | null;
  }): ClauseVerdictRow {
    return {
      matrixId: r.matrix_id,
      matrixAt: r.matrix_at,
      matrixOwner: r.matrix_owner,
      scheduleId: r.schedule_id,
      runId: r.run_id,
      at: r.finished_at ?? r.matrix_at,
      imageSha256: r.image_sha256,
      imageName: r.image_name,
      imageVersion: r.image_version,
      targetId: r.target_id,
      suite: r.suite,
      clause: r.clause,
      level: r.level as Level,
      verdict: r.verdict as Verdict,
      message: r.message,
      evidence: JSON.parse(r.evidence) as Record<string, unknown>,
      ...(r.qualifier ? { qualifier: r.qualifier } : {}),
    };
  }

  /**
   * Final clause verdicts of the newest `matrices` matrices that have any, oldest first (matrix
   * creation, then run and verdict order).
   */
  async clauseVerdicts(filter: HistoryFilter, matrices: number, caller: Caller): Promise<ClauseVerdictRow[]> {
    const recent = this.joined(filter, caller)
      .select('matrices.id')
      .groupBy(['matrices.id', 'matrices.created_at'])
      .orderBy('matrices.created_at', 'desc')
      .orderBy('matrices.id')
      .limit(matrices);
    const ids = (await recent.execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    const rows = await HistoryRepository.columns(this.joined({ ...filter, matrixIds: ids }, caller))
      .orderBy('matrices.created_at')
      .orderBy('matrices.id')
      .orderBy('runs.seq')
      .orderBy('verdicts.seq')
      .execute();
    return rows.map(HistoryRepository.toRow);
  }

  /**
   * Per clause, the verdicts of the run(s) that judged it last on a target or for an image (several
   * rows when runs finished at the same instant or a run judged a clause more than once).
   */
  async latestPerClause(
    subject: { targetId: string } | { imageSha256: string },
    caller: Caller,
  ): Promise<ClauseVerdictRow[]> {
    let judged = this.joined(subject, caller);
    // A target is certified on images that passed their static checks: a broken image's boot says
    // nothing of the VM.
    if ('targetId' in subject) judged = judged.where('runs.image_failed_checks', '=', 0);
    const ranked = HistoryRepository.columns(judged).select((eb: ExpressionBuilder<Database, Joined>) =>
      eb.fn
        .agg<number>('rank')
        .over((ob) => ob.partitionBy('verdicts.clause').orderBy('runs.finished_at', 'desc'))
        .as('rnk'),
    );
    const rows = await this.db
      .selectFrom(ranked.as('v'))
      .selectAll()
      .where('v.rnk', '=', 1)
      .orderBy('v.clause')
      .orderBy('v.run_id')
      .execute();
    return rows.map(HistoryRepository.toRow);
  }
}
