import { Inject, Injectable } from '@nestjs/common';
import type { PolicyScope } from '@vmfarm/protocol';
import type { Caller } from '../auth/caller';
import type { PolicyRow } from '../triage/retention';
import type { Db } from './database';
import { scopeKey, scopeOf } from './hooks.repository';
import { visibleRows } from './ownership';
import { DB } from './tokens';

/** Retry and retention policies of the farm, of tenants and of schedules. */
@Injectable()
export class PoliciesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  /** Every policy (the controller deciding), or those a caller may see. */
  async list(caller: Caller): Promise<PolicyRow[]> {
    const rows = await visibleRows(this.db.selectFrom('policies').selectAll(), caller, 'policies.tenant')
      .orderBy('scope')
      .execute();
    return rows.map((r) => ({
      scope: scopeOf(r.scope),
      retries: r.retries,
      keepDays: r.keep_days,
      keepMatrices: r.keep_matrices,
      updatedAt: r.updated_at,
    }));
  }

  /** Creates or replaces the policy of a scope; `tenant` is whose it is (null: the farm's or public). */
  async put(p: PolicyRow, tenant: string | null): Promise<void> {
    const values = {
      tenant,
      retries: p.retries,
      keep_days: p.keepDays,
      keep_matrices: p.keepMatrices,
      updated_at: p.updatedAt,
    };
    await this.db
      .insertInto('policies')
      .values({ scope: scopeKey(p.scope), ...values })
      .onConflict((oc) => oc.column('scope').doUpdateSet(values))
      .execute();
  }

  async delete(scope: PolicyScope): Promise<boolean> {
    const r = await this.db.deleteFrom('policies').where('scope', '=', scopeKey(scope)).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
