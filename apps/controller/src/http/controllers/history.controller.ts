import { Controller, Req, Res } from '@nestjs/common';
import {
  API,
  type Certification,
  type HistorySeries,
  type Regressions,
  type TrendPoint,
} from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { EventsService } from '../../events/events.service';
import { HistoryService } from '../../history/history.service';
import { In, Route } from '../route';

/**
 * Reads across matrices (history, trends, regressions, certification) and the live event stream:
 * people read them (a vendor over what it may see), agents do not.
 */
@Controller()
export class HistoryController {
  constructor(
    private readonly history: HistoryService,
    private readonly events: EventsService,
  ) {}

  @Route(API.listHistory)
  series(@Who() caller: Caller, @In() input: In<typeof API.listHistory>): Promise<HistorySeries[]> {
    const { limit, ...filter } = input.query;
    return this.history.series(filter, limit, caller);
  }

  @Route(API.getTrend)
  trend(@Who() caller: Caller, @In() input: In<typeof API.getTrend>): Promise<TrendPoint[]> {
    const { limit, ...filter } = input.query;
    return this.history.trend(filter, limit, caller);
  }

  @Route(API.getMatrixRegressions)
  regressions(@Who() caller: Caller, @In() input: In<typeof API.getMatrixRegressions>): Promise<Regressions> {
    return this.history.matrixRegressions(input.params.id, input.query.against, caller);
  }

  @Route(API.getTargetCertification)
  target(@Who() caller: Caller, @In() input: In<typeof API.getTargetCertification>): Promise<Certification> {
    return this.history.certifyTarget(input.params.id, caller);
  }

  @Route(API.getImageCertification)
  image(@Who() caller: Caller, @In() input: In<typeof API.getImageCertification>): Promise<Certification> {
    return this.history.certifyImage(input.params.sha256, caller);
  }

  @Route(API.streamEvents)
  stream(
    @Who() caller: Caller,
    @In() input: In<typeof API.streamEvents>,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.events.stream(req, res, input.query, caller);
  }
}
