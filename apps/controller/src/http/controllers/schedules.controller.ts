import { Controller } from '@nestjs/common';
import {
  API,
  type MatrixView,
  type Regressions,
  type ScheduleFire,
  type ScheduleView,
} from '@vmfarm/protocol';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { HistoryService } from '../../history/history.service';
import { SchedulesService } from '../../schedules/schedules.service';
import { In, Route } from '../route';

/** Vendors and admins make and run schedules (a vendor only its own); viewers read them. */
@Controller()
export class SchedulesController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly history: HistoryService,
  ) {}

  @Route(API.createSchedule)
  create(@Who() caller: Caller, @In() input: In<typeof API.createSchedule>): Promise<ScheduleView> {
    return this.schedules.create(input.body, caller);
  }

  @Route(API.listSchedules)
  list(@Who() caller: Caller, @In() input: In<typeof API.listSchedules>): Promise<ScheduleView[]> {
    return this.schedules.list(caller, input.query);
  }

  @Route(API.getSchedule)
  get(@Who() caller: Caller, @In() input: In<typeof API.getSchedule>): Promise<ScheduleView> {
    return this.schedules.get(input.params.id, caller);
  }

  @Route(API.patchSchedule)
  update(@Who() caller: Caller, @In() input: In<typeof API.patchSchedule>): Promise<ScheduleView> {
    return this.schedules.update(input.params.id, input.body, caller);
  }

  @Route(API.deleteSchedule)
  async delete(@Who() caller: Caller, @In() input: In<typeof API.deleteSchedule>): Promise<void> {
    await this.schedules.delete(input.params.id, caller);
  }

  @Route(API.runSchedule)
  run(@Who() caller: Caller, @In() input: In<typeof API.runSchedule>): Promise<MatrixView> {
    return this.schedules.runNow(input.params.id, caller);
  }

  @Route(API.listScheduleFires)
  fires(@Who() caller: Caller, @In() input: In<typeof API.listScheduleFires>): Promise<ScheduleFire[]> {
    return this.schedules.fires(input.params.id, input.query, caller);
  }

  @Route(API.getScheduleRegressions)
  regressions(
    @Who() caller: Caller,
    @In() input: In<typeof API.getScheduleRegressions>,
  ): Promise<Regressions> {
    return this.history.scheduleRegressions(input.params.id, caller);
  }
}
