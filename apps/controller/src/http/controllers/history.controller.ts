import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import type { Certification, HistorySeries, Regressions, TrendPoint } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Allow, Who } from '../../auth/guard';
import { READERS } from '../../auth/policy';
import { EventsService } from '../../events/events.service';
import { HistoryService } from '../../history/history.service';
import {
  againstQuery,
  eventsQuery,
  historyQuery,
  idParams,
  shaParams,
  targetParams,
  trendQuery,
} from '../schemas';
import { validate } from '../validate';

/**
 * Reads across matrices (history, trends, regressions, certification) and the live event stream:
 * people read them (a vendor over what it may see), agents do not.
 */
@Controller('api')
export class HistoryController {
  constructor(
    private readonly history: HistoryService,
    private readonly events: EventsService,
  ) {}

  @Get('history')
  @Allow(READERS)
  series(@Who() caller: Caller, @Query() query: unknown): Promise<HistorySeries[]> {
    const { limit, ...filter } = validate({ query: [historyQuery, query] }).query;
    return this.history.series(filter, limit, caller);
  }

  @Get('history/trend')
  @Allow(READERS)
  trend(@Who() caller: Caller, @Query() query: unknown): Promise<TrendPoint[]> {
    const { limit, ...filter } = validate({ query: [trendQuery, query] }).query;
    return this.history.trend(filter, limit, caller);
  }

  @Get('matrices/:id/regressions')
  @Allow(READERS)
  regressions(
    @Who() caller: Caller,
    @Param() params: unknown,
    @Query() query: unknown,
  ): Promise<Regressions> {
    const input = validate({ params: [idParams, params], query: [againstQuery, query] });
    return this.history.matrixRegressions(input.params.id, input.query.against, caller);
  }

  @Get('certification/targets/:id')
  @Allow(READERS)
  target(@Who() caller: Caller, @Param() params: unknown): Promise<Certification> {
    return this.history.certifyTarget(validate({ params: [targetParams, params] }).params.id, caller);
  }

  @Get('certification/images/:sha256')
  @Allow(READERS)
  image(@Who() caller: Caller, @Param() params: unknown): Promise<Certification> {
    return this.history.certifyImage(validate({ params: [shaParams, params] }).params.sha256, caller);
  }

  @Get('events')
  @Allow(READERS)
  stream(
    @Who() caller: Caller,
    @Query() query: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.events.stream(req, res, validate({ query: [eventsQuery, query] }).query, caller);
  }
}
