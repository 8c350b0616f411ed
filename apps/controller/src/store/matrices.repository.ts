import { Inject, Injectable } from '@nestjs/common';
import type { MatrixRequest } from '@vmfarm/protocol';
import type { Db } from './database';
import { DB } from './tokens';
import { runValues, type NewRun } from './runs.repository';

export interface MatrixRow {
  id: string;
  request: MatrixRequest;
  createdAt: string;
}

@Injectable()
export class MatricesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** The matrix and all its runs in one transaction: either every cell exists or none. */
  async create(matrix: MatrixRow, runs: readonly NewRun[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('matrices')
        .values({ id: matrix.id, request: JSON.stringify(matrix.request), created_at: matrix.createdAt })
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
    return (
      row && { id: row.id, request: JSON.parse(row.request) as MatrixRequest, createdAt: row.created_at }
    );
  }

  async list(limit: number): Promise<MatrixRow[]> {
    const rows = await this.db
      .selectFrom('matrices')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      request: JSON.parse(r.request) as MatrixRequest,
      createdAt: r.created_at,
    }));
  }
}
