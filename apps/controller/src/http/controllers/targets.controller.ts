import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { targetCreateSchema, type SuiteInfo, type TargetProfile } from '@vmfarm/protocol';
import { Inject } from '@nestjs/common';
import type { Caller } from '../../auth/caller';
import { Allow, Who } from '../../auth/guard';
import { READERS, WRITERS } from '../../auth/policy';
import { SUITE_CATALOG, type SuiteCatalog } from '../../suites';
import { TargetsService } from '../../targets/targets.service';
import { targetParams } from '../schemas';
import { validate } from '../validate';

@Controller('api')
export class TargetsController {
  constructor(
    private readonly targets: TargetsService,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
  ) {}

  @Get('targets')
  @Allow(READERS)
  list(@Who() caller: Caller): Promise<TargetProfile[]> {
    return this.targets.list(caller);
  }

  @Post('targets')
  @Allow(WRITERS)
  create(@Who() caller: Caller, @Body() body: unknown): Promise<TargetProfile> {
    return this.targets.create(validate({ body: [targetCreateSchema, body] }).body, caller);
  }

  @Get('targets/:id')
  @Allow(READERS)
  get(@Who() caller: Caller, @Param() params: unknown): Promise<TargetProfile> {
    return this.targets.get(validate({ params: [targetParams, params] }).params.id, caller);
  }

  @Get('suites')
  @Allow(READERS)
  listSuites(): readonly SuiteInfo[] {
    return this.suites.list();
  }
}
