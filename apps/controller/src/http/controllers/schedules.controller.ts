import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  scheduleCreateSchema,
  schedulePatchSchema,
  type MatrixView,
  type Regressions,
  type ScheduleFire,
  type ScheduleView,
} from '@vmfarm/protocol';
import { HistoryService } from '../../history/history.service';
import { SchedulesService } from '../../schedules/schedules.service';
import { idParams, listQuery } from '../schemas';
import { validate } from '../validate';

@Controller('api/schedules')
export class SchedulesController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly history: HistoryService,
  ) {}

  @Post()
  create(@Body() body: unknown): Promise<ScheduleView> {
    return this.schedules.create(validate({ body: [scheduleCreateSchema, body] }).body);
  }

  @Get()
  list(): Promise<ScheduleView[]> {
    return this.schedules.list();
  }

  @Get(':id')
  get(@Param() params: unknown): Promise<ScheduleView> {
    return this.schedules.get(validate({ params: [idParams, params] }).params.id);
  }

  @Patch(':id')
  update(@Param() params: unknown, @Body() body: unknown): Promise<ScheduleView> {
    const input = validate({ params: [idParams, params], body: [schedulePatchSchema, body] });
    return this.schedules.update(input.params.id, input.body);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param() params: unknown): Promise<void> {
    await this.schedules.delete(validate({ params: [idParams, params] }).params.id);
  }

  @Post(':id/run')
  run(@Param() params: unknown): Promise<MatrixView> {
    return this.schedules.runNow(validate({ params: [idParams, params] }).params.id);
  }

  @Get(':id/fires')
  fires(@Param() params: unknown, @Query() query: unknown): Promise<ScheduleFire[]> {
    const input = validate({ params: [idParams, params], query: [listQuery, query] });
    return this.schedules.fires(input.params.id, input.query.limit);
  }

  @Get(':id/regressions')
  regressions(@Param() params: unknown): Promise<Regressions> {
    return this.history.scheduleRegressions(validate({ params: [idParams, params] }).params.id);
  }
}
