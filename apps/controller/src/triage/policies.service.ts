import { Injectable } from '@nestjs/common';
import type { PolicyScope, PolicySet, PolicyView } from '@vmfarm/protocol';
import type { Caller } from '../auth/caller';
import { notFound } from '../errors';
import { PoliciesRepository } from '../store/policies.repository';
import type { PolicyRow } from './retention';
import { ScopeAccess } from './scopes';

const same = (a: PolicyScope, b: PolicyScope) => JSON.stringify(a) === JSON.stringify(b);

/** Retry and retention policies of the farm, a tenant or a schedule; the most specific one wins. */
@Injectable()
export class PoliciesService {
  constructor(
    private readonly policies: PoliciesRepository,
    private readonly access: ScopeAccess,
  ) {}

  list(caller: Caller): Promise<PolicyView[]> {
    return this.policies.list(caller);
  }

  /** Sets the fields given (null: inherit again); the others keep their value. */
  async put(scope: PolicyScope, set: PolicySet, caller: Caller): Promise<PolicyView> {
    const { tenant } = await this.access.writable(scope, caller);
    const old = (await this.policies.list(caller)).find((p) => same(p.scope, scope));
    const row: PolicyRow = {
      scope,
      retries: set.retries === undefined ? (old?.retries ?? null) : set.retries,
      keepDays: set.keepDays === undefined ? (old?.keepDays ?? null) : set.keepDays,
      keepMatrices: set.keepMatrices === undefined ? (old?.keepMatrices ?? null) : set.keepMatrices,
      updatedAt: new Date().toISOString(),
    };
    await this.policies.put(row, tenant);
    return row;
  }

  async delete(scope: PolicyScope, caller: Caller): Promise<void> {
    await this.access.writable(scope, caller);
    if (!(await this.policies.delete(scope))) throw notFound('no policy there');
  }
}
