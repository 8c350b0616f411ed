import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { targetCreateSchema, type SuiteInfo, type TargetProfile } from '@vmfarm/protocol';
import { Inject } from '@nestjs/common';
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
  list(): Promise<TargetProfile[]> {
    return this.targets.list();
  }

  @Post('targets')
  create(@Body() body: unknown): Promise<TargetProfile> {
    return this.targets.create(validate({ body: [targetCreateSchema, body] }).body);
  }

  @Get('targets/:id')
  get(@Param() params: unknown): Promise<TargetProfile> {
    return this.targets.get(validate({ params: [targetParams, params] }).params.id);
  }

  @Get('suites')
  listSuites(): readonly SuiteInfo[] {
    return this.suites.list();
  }
}
