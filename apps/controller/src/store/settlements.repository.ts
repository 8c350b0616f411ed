import { Inject, Injectable } from '@nestjs/common';
import type { Db } from './database';
import { insertDeliveries, type NewDelivery } from './hooks.repository';
import { runValues, type NewRun } from './runs.repository';
import { DB } from './tokens';

export interface SettlementRow {
  matrixId: string;
  round: number;
  state: 'retrying' | 'settled';
  retried: number;
  outcome: unknown;
  at: string;
}

/**
 * How finished matrices were settled. Each time a matrix is done (round 0 for its plan, round n
 * after the n-th retries) exactly one controller claims the round, and writes in one transaction
 * either the retry runs it asks for or the settlement with the notifications it sends.
 */
@Injectable()
export class SettlementsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /**
   * Round `round` of a matrix asks for re-runs: the claim and the new runs together. false (and
   * nothing written) when that round was claimed already.
   */
  async retry(matrixId: string, round: number, runs: readonly NewRun[], at: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto('matrix_settlements')
        .values({ matrix_id: matrixId, round, state: 'retrying', retried: runs.length, outcome: null, at })
        .onConflict((oc) => oc.columns(['matrix_id', 'round']).doNothing())
        .executeTakeFirst();
      if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      if (runs.length > 0) await trx.insertInto('runs').values(runs.map(runValues)).execute();
      return true;
    });
  }

  /** Round `round` settles the matrix, with the notifications it sends; false when claimed already. */
  async settle(
    matrixId: string,
    round: number,
    outcome: unknown,
    deliveries: readonly NewDelivery[],
    at: string,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto('matrix_settlements')
        .values({
          matrix_id: matrixId,
          round,
          state: 'settled',
          retried: 0,
          outcome: JSON.stringify(outcome),
          at,
        })
        .onConflict((oc) => oc.columns(['matrix_id', 'round']).doNothing())
        .executeTakeFirst();
      if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await insertDeliveries(trx, deliveries);
      return true;
    });
  }

  /** The matrix's rounds, oldest first. */
  async rounds(matrixId: string): Promise<SettlementRow[]> {
    const rows = await this.db
      .selectFrom('matrix_settlements')
      .selectAll()
      .where('matrix_id', '=', matrixId)
      .orderBy('round')
      .execute();
    return rows.map((r) => ({
      matrixId: r.matrix_id,
      round: r.round,
      state: r.state as SettlementRow['state'],
      retried: r.retried,
      outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as unknown),
      at: r.at,
    }));
  }

  /** Matrices whose every run is done but that are not settled (a controller stopped in between). */
  async unsettled(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('matrices')
      .select('matrices.id')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('runs')
              .select('runs.id')
              .whereRef('runs.matrix_id', '=', 'matrices.id')
              .where('runs.state', '!=', 'done'),
          ),
        ),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('matrix_settlements')
              .select('matrix_settlements.matrix_id')
              .whereRef('matrix_settlements.matrix_id', '=', 'matrices.id')
              .where('matrix_settlements.state', '=', 'settled'),
          ),
        ),
      )
      .orderBy('matrices.created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }
}
