import { Controller, Req } from '@nestjs/common';
import {
  API,
  type Deletion,
  type DeliveryView,
  type DiskUsage,
  type HookCreated,
  type HookView,
  type JanitorReport,
  type KnownIssueView,
  type MatrixTriage,
  type PolicyView,
} from '@vmfarm/protocol';
import type { Request } from 'express';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { HooksService } from '../../triage/hooks.service';
import { JanitorService } from '../../triage/janitor.service';
import { KcidbService } from '../../triage/kcidb.service';
import { KnownIssuesService } from '../../triage/known-issues.service';
import { PoliciesService } from '../../triage/policies.service';
import { TriageService } from '../../triage/triage.service';
import { In, Route } from '../route';

const page = <T>(list: T[], q: { offset: number; limit: number }) => list.slice(q.offset, q.offset + q.limit);

/** Release-team triage: known issues, matrix triage and export, policies, hooks, the janitor. */
@Controller()
export class TriageController {
  constructor(
    private readonly knownIssues: KnownIssuesService,
    private readonly triage: TriageService,
    private readonly kcidb: KcidbService,
    private readonly policies: PoliciesService,
    private readonly hooks: HooksService,
    private readonly janitor: JanitorService,
  ) {}

  @Route(API.listKnownIssues)
  async listKnownIssues(
    @Who() caller: Caller,
    @In() input: In<typeof API.listKnownIssues>,
  ): Promise<KnownIssueView[]> {
    return page(await this.knownIssues.list(caller, input.query.all), input.query);
  }

  @Route(API.createKnownIssue)
  createKnownIssue(
    @Who() caller: Caller,
    @In() input: In<typeof API.createKnownIssue>,
  ): Promise<KnownIssueView> {
    return this.knownIssues.create(input.body, caller);
  }

  @Route(API.getKnownIssue)
  getKnownIssue(@Who() caller: Caller, @In() input: In<typeof API.getKnownIssue>): Promise<KnownIssueView> {
    return this.knownIssues.get(input.params.id, caller);
  }

  @Route(API.patchKnownIssue)
  patchKnownIssue(
    @Who() caller: Caller,
    @In() input: In<typeof API.patchKnownIssue>,
  ): Promise<KnownIssueView> {
    return this.knownIssues.update(input.params.id, input.body, caller);
  }

  @Route(API.closeKnownIssue)
  closeKnownIssue(
    @Who() caller: Caller,
    @In() input: In<typeof API.closeKnownIssue>,
  ): Promise<KnownIssueView> {
    return this.knownIssues.close(input.params.id, caller);
  }

  @Route(API.getMatrixTriage)
  matrixTriage(@Who() caller: Caller, @In() input: In<typeof API.getMatrixTriage>): Promise<MatrixTriage> {
    return this.triage.matrixTriage(input.params.id, caller);
  }

  @Route(API.getMatrixKcidb)
  matrixKcidb(
    @Who() caller: Caller,
    @In() input: In<typeof API.getMatrixKcidb>,
    @Req() req: Request,
  ): Promise<Record<string, unknown>> {
    return this.kcidb.export(input.params.id, caller, `${req.protocol}://${req.get('host')}`);
  }

  @Route(API.listPolicies)
  listPolicies(@Who() caller: Caller): Promise<PolicyView[]> {
    return this.policies.list(caller);
  }

  @Route(API.putFarmPolicy)
  putFarmPolicy(@Who() caller: Caller, @In() input: In<typeof API.putFarmPolicy>): Promise<PolicyView> {
    return this.policies.put({ kind: 'farm' }, input.body, caller);
  }

  @Route(API.deleteFarmPolicy)
  deleteFarmPolicy(@Who() caller: Caller): Promise<void> {
    return this.policies.delete({ kind: 'farm' }, caller);
  }

  @Route(API.putTenantPolicy)
  putTenantPolicy(@Who() caller: Caller, @In() input: In<typeof API.putTenantPolicy>): Promise<PolicyView> {
    return this.policies.put({ kind: 'tenant', tenant: input.params.tenant }, input.body, caller);
  }

  @Route(API.deleteTenantPolicy)
  deleteTenantPolicy(@Who() caller: Caller, @In() input: In<typeof API.deleteTenantPolicy>): Promise<void> {
    return this.policies.delete({ kind: 'tenant', tenant: input.params.tenant }, caller);
  }

  @Route(API.putSchedulePolicy)
  putSchedulePolicy(
    @Who() caller: Caller,
    @In() input: In<typeof API.putSchedulePolicy>,
  ): Promise<PolicyView> {
    return this.policies.put({ kind: 'schedule', scheduleId: input.params.id }, input.body, caller);
  }

  @Route(API.deleteSchedulePolicy)
  deleteSchedulePolicy(
    @Who() caller: Caller,
    @In() input: In<typeof API.deleteSchedulePolicy>,
  ): Promise<void> {
    return this.policies.delete({ kind: 'schedule', scheduleId: input.params.id }, caller);
  }

  @Route(API.listHooks)
  listHooks(@Who() caller: Caller): Promise<HookView[]> {
    return this.hooks.list(caller);
  }

  @Route(API.createHook)
  createHook(@Who() caller: Caller, @In() input: In<typeof API.createHook>): Promise<HookCreated> {
    return this.hooks.create(input.body, caller);
  }

  @Route(API.deleteHook)
  deleteHook(@Who() caller: Caller, @In() input: In<typeof API.deleteHook>): Promise<void> {
    return this.hooks.delete(input.params.id, caller);
  }

  @Route(API.listDeliveries)
  listDeliveries(@Who() caller: Caller, @In() input: In<typeof API.listDeliveries>): Promise<DeliveryView[]> {
    return this.hooks
      .deliveries(input.params.id, input.query.offset + input.query.limit, caller)
      .then((l) => l.slice(input.query.offset));
  }

  @Route(API.runJanitor)
  runJanitor(@In() input: In<typeof API.runJanitor>): Promise<JanitorReport> {
    return this.janitor.run({ dryRun: input.body.dryRun });
  }

  @Route(API.listDeletions)
  listDeletions(@In() input: In<typeof API.listDeletions>): Promise<Deletion[]> {
    return this.janitor
      .deletions(input.query.offset + input.query.limit)
      .then((l) => l.slice(input.query.offset));
  }

  @Route(API.getDiskUsage)
  diskUsage(): Promise<DiskUsage> {
    return this.janitor.usage();
  }
}
