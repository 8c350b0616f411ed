import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  scheduleCreateSchema,
  schedulePatchSchema,
  type MatrixView,
  type Regressions,
  type ScheduleFire,
  type ScheduleView,
} from '@vmfarm/protocol';
import type { Caller } from '../../auth/caller';
import { Allow, Who } from '../../auth/guard';
import { READERS, WRITERS } from '../../auth/policy';
import { HistoryService } from '../../history/history.service';
import { SchedulesService } from '../../schedules/schedules.service';
import { idParams, listQuery } from '../schemas';
import { validate } from '../validate';

/** Vendors and admins make and run schedules (a vendor only its own); viewers read them. */
@Controller('api/schedules')
export class SchedulesController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly history: HistoryService,
  ) {}

  @Post()
  @Allow(WRITERS)
  create(@Who() caller: Caller, @Body() body: unknown): Promise<ScheduleView> {
    return this.schedules.create(validate({ body: [scheduleCreateSchema, body] }).body, caller);
  }

  @Get()
  @Allow(READERS)
  list(@Who() caller: Caller): Promise<ScheduleView[]> {
    return this.schedules.list(caller);
  }

  @Get(':id')
  @Allow(READERS)
  get(@Who() caller: Caller, @Param() params: unknown): Promise<ScheduleView> {
    return this.schedules.get(validate({ params: [idParams, params] }).params.id, caller);
  }

  @Patch(':id')
  @Allow(WRITERS)
  update(@Who() caller: Caller, @Param() params: unknown, @Body() body: unknown): Promise<ScheduleView> {
    const input = validate({ params: [idParams, params], body: [schedulePatchSchema, body] });
    return this.schedules.update(input.params.id, input.body, caller);
  }

  @Delete(':id')
  @Allow(WRITERS)
  @HttpCode(204)
  async delete(@Who() caller: Caller, @Param() params: unknown): Promise<void> {
    await this.schedules.delete(validate({ params: [idParams, params] }).params.id, caller);
  }

  @Post(':id/run')
  @Allow(WRITERS)
  run(@Who() caller: Caller, @Param() params: unknown): Promise<MatrixView> {
    return this.schedules.runNow(validate({ params: [idParams, params] }).params.id, caller);
  }

  @Get(':id/fires')
  @Allow(READERS)
  fires(@Who() caller: Caller, @Param() params: unknown, @Query() query: unknown): Promise<ScheduleFire[]> {
    const input = validate({ params: [idParams, params], query: [listQuery, query] });
    return this.schedules.fires(input.params.id, input.query.limit, caller);
  }

  @Get(':id/regressions')
  @Allow(READERS)
  regressions(@Who() caller: Caller, @Param() params: unknown): Promise<Regressions> {
    return this.history.scheduleRegressions(validate({ params: [idParams, params] }).params.id, caller);
  }
}
