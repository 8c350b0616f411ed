import { Inject, Injectable } from '@nestjs/common';
import type { MatrixRequest } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Db } from './database';
import { DB } from './tokens';
import { runValues, type NewRun } from './runs.repository';
import type { MatricesTable } from './schema';

export interface MatrixRow {
  id: string;
  request: MatrixRequest;
  createdAt: string;
  scheduleId: string | null;
}

function toMatrix(r: Selectable<MatricesTable>): MatrixRow {
  return {
    id: r.id,
    request: JSON.parse(r.request) as MatrixRequest,
    createdAt: r.created_at,
    scheduleId: r.schedule_id,
  };
}

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

  async get(id: string): Promise<MatrixRow | undefined> {
    const row = await this.db.selectFrom('matrices').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toMatrix(row);
  }

  /** Newest first; only one schedule's when scheduleId is given. */
  async list(limit: number, filter: { scheduleId?: string } = {}): Promise<MatrixRow[]> {
    let query = this.db.selectFrom('matrices').selectAll();
    if (filter.scheduleId !== undefined) query = query.where('schedule_id', '=', filter.scheduleId);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
    return rows.map(toMatrix);
  }

  /** A schedule's matrices whose every run is done, newest first, created before `before` if given. */
  async finishedOfSchedule(scheduleId: string, limit: number, before?: string): Promise<MatrixRow[]> {
    let query = this.db
      .selectFrom('matrices')
      .selectAll()
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
