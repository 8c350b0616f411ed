import { Inject, Injectable } from '@nestjs/common';
import type { MatrixRequest, Verdict } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { MatricesTable } from './schema';
import { DB } from './tokens';
import { runValues, writeAttempt, type AttemptRecord, type NewRun } from './runs.repository';

export interface MatrixRow {
  id: string;
  request: MatrixRequest;
  createdAt: string;
  /** The submitting vendor's tenant; null: public (an admin's). */
  owner: string | null;
  scheduleId: string | null;
  cancelled: { at: string; by: string; reason: string } | null;
}

/** An Idempotency-Key of a submit: whose (`scope`: the token), and what it asked for. */
export interface IdempotencyRow {
  scope: string;
  key: string;
  requestSha256: string;
  matrixId: string;
}

/** Runs of a matrix counted by state and verdict. */
export interface RunCounts {
  total: number;
  done: number;
  verdicts: Record<Verdict, number>;
}

const toMatrix = (r: Selectable<MatricesTable>): MatrixRow => ({
  id: r.id,
  request: JSON.parse(r.request) as MatrixRequest,
  createdAt: r.created_at,
  owner: r.owner,
  scheduleId: r.schedule_id,
  cancelled:
    r.cancelled_at === null
      ? null
      : { at: r.cancelled_at, by: r.cancelled_by ?? '', reason: r.cancel_reason ?? '' },
});

@Injectable()
export class MatricesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /**
   * The matrix, all its runs, the results of cells planned as SKIP and its Idempotency-Key, in one
   * transaction: either all of it exists or none.
   */
  async create(
    matrix: MatrixRow,
    runs: readonly NewRun[],
    skipped: readonly AttemptRecord[],
    idempotency?: IdempotencyRow,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('matrices')
        .values({
          id: matrix.id,
          request: JSON.stringify(matrix.request),
          created_at: matrix.createdAt,
          owner: matrix.owner,
          schedule_id: matrix.scheduleId,
          cancelled_at: null,
          cancelled_by: null,
          cancel_reason: null,
        })
        .execute();
      // Chunked: PostgreSQL caps bind parameters per statement, SQLite too.
      for (let i = 0; i < runs.length; i += 500) {
        await trx
          .insertInto('runs')
          .values(runs.slice(i, i + 500).map(runValues))
          .execute();
      }
      for (const rec of skipped) await writeAttempt(trx, rec);
      if (idempotency)
        await trx
          .insertInto('idempotency_keys')
          .values({
            scope: idempotency.scope,
            key: idempotency.key,
            request_sha256: idempotency.requestSha256,
            matrix_id: matrix.id,
            created_at: matrix.createdAt,
          })
          .execute();
    });
  }

  /** Undoes create() (its jobs could not be queued): the matrix and everything written with it. */
  async remove(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const runs = trx.selectFrom('runs').select('id').where('matrix_id', '=', id);
      await trx.deleteFrom('idempotency_keys').where('matrix_id', '=', id).execute();
      await trx.deleteFrom('verdicts').where('run_id', 'in', runs).execute();
      await trx.deleteFrom('artifacts').where('run_id', 'in', runs).execute();
      await trx.deleteFrom('attempts').where('run_id', 'in', runs).execute();
      await trx.deleteFrom('runs').where('matrix_id', '=', id).execute();
      await trx.deleteFrom('matrices').where('id', '=', id).execute();
    });
  }

  async idempotency(scope: string, key: string): Promise<IdempotencyRow | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('scope', '=', scope)
      .where('key', '=', key)
      .executeTakeFirst();
    return (
      row && { scope: row.scope, key: row.key, requestSha256: row.request_sha256, matrixId: row.matrix_id }
    );
  }

  /** Marks a matrix cancelled once; false when it already was. */
  async setCancelled(id: string, cancelled: NonNullable<MatrixRow['cancelled']>): Promise<boolean> {
    const result = await this.db
      .updateTable('matrices')
      .set({ cancelled_at: cancelled.at, cancelled_by: cancelled.by, cancel_reason: cancelled.reason })
      .where('id', '=', id)
      .where('cancelled_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  private visible(caller: Caller) {
    return visibleRows(this.db.selectFrom('matrices').selectAll(), caller, 'matrices.owner');
  }

  async get(id: string, caller: Caller): Promise<MatrixRow | undefined> {
    const row = await this.visible(caller).where('id', '=', id).executeTakeFirst();
    return row && toMatrix(row);
  }

  /** Newest first; only one schedule's when scheduleId is given. */
  async list(
    page: { limit: number; offset?: number },
    caller: Caller,
    filter: { scheduleId?: string } = {},
  ): Promise<MatrixRow[]> {
    let query = this.visible(caller);
    if (filter.scheduleId !== undefined) query = query.where('schedule_id', '=', filter.scheduleId);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset ?? 0)
      .execute();
    return rows.map(toMatrix);
  }

  /** Each matrix's runs counted, in one query. */
  async counts(ids: readonly string[]): Promise<Map<string, RunCounts>> {
    const out = new Map<string, RunCounts>(
      ids.map((id) => [id, { total: 0, done: 0, verdicts: { PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0 } }]),
    );
    if (ids.length === 0) return out;
    const rows = await this.db
      .selectFrom('runs')
      .select(['matrix_id', 'state', 'verdict'])
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('matrix_id', 'in', ids)
      .groupBy(['matrix_id', 'state', 'verdict'])
      .execute();
    for (const r of rows) {
      const c = out.get(r.matrix_id)!;
      const n = Number(r.n);
      c.total += n;
      if (r.state === 'done') {
        c.done += n;
        if (r.verdict) c.verdicts[r.verdict as Verdict] += n;
      }
    }
    return out;
  }

  /** A schedule's matrices whose every run is done, newest first, created before `before` if given. */
  async finishedOfSchedule(
    scheduleId: string,
    caller: Caller,
    limit: number,
    before?: string,
  ): Promise<MatrixRow[]> {
    let query = this.visible(caller)
      .where('schedule_id', '=', scheduleId)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('runs')
              .select('runs.id')
              .whereRef('runs.matrix_id', '=', 'matrices.id')
              .where('runs.state', '!=', 'done'),
          ),
        ),
      );
    if (before !== undefined) query = query.where('created_at', '<', before);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
    return rows.map(toMatrix);
  }
}
