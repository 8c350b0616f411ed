import { Controller, Inject } from '@nestjs/common';
import { API, type SuiteInfo, type TargetProfile } from '@vmfarm/protocol';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { SUITE_CATALOG, type SuiteCatalog } from '../../suites';
import { TargetsService } from '../../targets/targets.service';
import { In, Route } from '../route';

@Controller()
export class TargetsController {
  constructor(
    private readonly targets: TargetsService,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
  ) {}

  @Route(API.listTargets)
  async list(@Who() caller: Caller, @In() input: In<typeof API.listTargets>): Promise<TargetProfile[]> {
    const { offset, limit } = input.query;
    return (await this.targets.list(caller)).slice(offset, offset + limit);
  }

  @Route(API.createTarget)
  create(@Who() caller: Caller, @In() input: In<typeof API.createTarget>): Promise<TargetProfile> {
    return this.targets.create(input.body, caller);
  }

  @Route(API.getTarget)
  get(@Who() caller: Caller, @In() input: In<typeof API.getTarget>): Promise<TargetProfile> {
    return this.targets.get(input.params.id, caller);
  }

  @Route(API.listSuites)
  listSuites(): readonly SuiteInfo[] {
    return this.suites.list();
  }
}
