import { Injectable } from '@nestjs/common';
import type { PolicyScope } from '@vmfarm/protocol';
import type { Caller } from '../auth/caller';
import { ApiHttpError, notFound } from '../errors';
import { SchedulesRepository } from '../store/schedules.repository';

/**
 * Who may set a policy or a hook on a scope, and whose it then is: the farm's are an admin's;
 * a tenant's are that tenant's vendors' (and admins'); a schedule's are whoever may change the
 * schedule. A schedule the caller may not see is a 404, another tenant a 403.
 */
@Injectable()
export class ScopeAccess {
  constructor(private readonly schedules: SchedulesRepository) {}

  async writable(scope: PolicyScope, caller: Caller): Promise<{ tenant: string | null }> {
    if (scope.kind === 'farm') {
      if (caller.role !== 'admin')
        throw new ApiHttpError(403, 'only an admin may set what applies to the farm');
      return { tenant: null };
    }
    if (scope.kind === 'tenant') {
      if (!caller.canWrite(scope.tenant))
        throw new ApiHttpError(403, `only tenant ${scope.tenant}'s vendors or an admin may set this`);
      return { tenant: scope.tenant };
    }
    const s = await this.schedules.get(scope.scheduleId, caller);
    if (!s) throw notFound(`no schedule ${scope.scheduleId}`);
    if (!caller.canWrite(s.owner))
      throw new ApiHttpError(403, `schedule ${scope.scheduleId} is public: only an admin may set this`);
    return { tenant: s.owner };
  }
}
