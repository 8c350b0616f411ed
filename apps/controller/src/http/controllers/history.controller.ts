import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import type { Certification, HistorySeries, Regressions, TrendPoint } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
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

/** Reads across matrices (history, trends, regressions, certification) and the live event stream. */
@Controller('api')
export class HistoryController {
  constructor(
    private readonly history: HistoryService,
    private readonly events: EventsService,
  ) {}

  @Get('history')
  series(@Query() query: unknown): Promise<HistorySeries[]> {
    const { limit, ...filter } = validate({ query: [historyQuery, query] }).query;
    return this.history.series(filter, limit);
  }

  @Get('history/trend')
  trend(@Query() query: unknown): Promise<TrendPoint[]> {
    const { limit, ...filter } = validate({ query: [trendQuery, query] }).query;
    return this.history.trend(filter, limit);
  }

  @Get('matrices/:id/regressions')
  regressions(@Param() params: unknown, @Query() query: unknown): Promise<Regressions> {
    const input = validate({ params: [idParams, params], query: [againstQuery, query] });
    return this.history.matrixRegressions(input.params.id, input.query.against);
  }

  @Get('certification/targets/:id')
  target(@Param() params: unknown): Promise<Certification> {
    return this.history.certifyTarget(validate({ params: [targetParams, params] }).params.id);
  }

  @Get('certification/images/:sha256')
  image(@Param() params: unknown): Promise<Certification> {
    return this.history.certifyImage(validate({ params: [shaParams, params] }).params.sha256);
  }

  @Get('events')
  stream(@Query() query: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    return this.events.stream(req, res, validate({ query: [eventsQuery, query] }).query);
  }
}
