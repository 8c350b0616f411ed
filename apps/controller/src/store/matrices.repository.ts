import { Inject, Injectable } from '@nestjs/common';
import type { MatrixRequest } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { MatricesTable } from './schema';
import { DB } from './tokens';
import { runValues, type NewRun } from './runs.repository';

export interface MatrixRow {
  id: string;
  request: MatrixRequest;
  createdAt: string;
  /** The submitting vendor's tenant; null: public (an admin's). */
  owner: string | null;
  scheduleId: string | null;
}

const toMatrix = (r: Selectable<MatricesTable>): MatrixRow => ({
  id: r.id,
  request: JSON.parse(r.request) as MatrixRequest,
  createdAt: r.created_at,
  owner: r.owner,
  scheduleId: r.schedule_id,
});

@Injectable()
export class MatricesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** The matrix and all its runs in one transaction: either every cell exists or none. */
  async create(matrix: MatrixRow, runs: readonly NewRun[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('matrices')
        .values({
          id: matrix.id,
          request: JSON.stringify(matrix.request),
          created_at: matrix.createdAt,
          owner: matrix.owner,
          schedule_id: matrix.scheduleId,
        })
        .execute();
      // Chunked: PostgreSQL caps bind parameters per statement, SQLite too.
      for (let i = 0; i < runs.length; i += 500) {
        await trx
          .insertInto('runs')
          .values(runs.slice(i, i + 500).map(runValues))
          .execute();
      }
    });
  }

  private visible(caller: Caller) {
    return visibleRows(this.db.selectFrom('matrices').selectAll(), caller, 'matrices.owner');
  }

  async get(id: string, caller: Caller): Promise<MatrixRow | undefined> {
    const row = await this.visible(caller).where('id', '=', id).executeTakeFirst();
    return row && toMatrix(row);
  }

  /** Newest first; only one schedule's when scheduleId is given. */
  async list(limit: number, caller: Caller, filter: { scheduleId?: string } = {}): Promise<MatrixRow[]> {
    let query = this.visible(caller);
    if (filter.scheduleId !== undefined) query = query.where('schedule_id', '=', filter.scheduleId);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
    return rows.map(toMatrix);
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
