import { sql, type Expression, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Caller } from '../auth/caller';

/**
 * The rows of a query the caller may see, by an owner column (`table.owner`): for a vendor its
 * tenant's rows and public ones (owner null), plus whatever `alsoVisible(tenant)` admits; for
 * every other role all rows. Every repository of an owned resource filters through this.
 */
export function visibleRows<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  caller: Caller,
  ownerColumn: string,
  alsoVisible?: (tenant: string) => Expression<SqlBool>,
): SelectQueryBuilder<DB, TB, O> {
  const tenant = caller.scope;
  if (tenant === undefined) return query;
  const owner = sql.ref(ownerColumn);
  const extra = alsoVisible ? sql<SqlBool>` or ${alsoVisible(tenant)}` : sql``;
  return query.where(sql<SqlBool>`(${owner} is null or ${owner} = ${tenant}${extra})`);
}
