import { Body, Controller, Get, Param, Post, Query, Res, StreamableFile } from '@nestjs/common';
import {
  matrixRequestSchema,
  renderMatrixJUnit,
  type MatrixReport,
  type MatrixView,
  type RunView,
} from '@vmfarm/protocol';
import type { Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Allow, Who } from '../../auth/guard';
import { READERS, WRITERS } from '../../auth/policy';
import { MatricesService } from '../../matrices/matrices.service';
import { RunsService } from '../../runs/runs.service';
import { artifactParams, idParams, matricesQuery, reportQuery } from '../schemas';
import { validate } from '../validate';

@Controller('api')
export class MatricesController {
  constructor(
    private readonly matrices: MatricesService,
    private readonly runs: RunsService,
  ) {}

  @Post('matrices')
  @Allow(WRITERS)
  create(@Who() caller: Caller, @Body() body: unknown): Promise<MatrixView> {
    return this.matrices.create(validate({ body: [matrixRequestSchema, body] }).body, caller);
  }

  @Get('matrices')
  @Allow(READERS)
  list(@Who() caller: Caller, @Query() query: unknown): Promise<MatrixView[]> {
    const { limit, schedule } = validate({ query: [matricesQuery, query] }).query;
    return this.matrices.list(limit, caller, { scheduleId: schedule });
  }

  @Get('matrices/:id')
  @Allow(READERS)
  get(@Who() caller: Caller, @Param() params: unknown): Promise<MatrixView> {
    return this.matrices.get(validate({ params: [idParams, params] }).params.id, caller);
  }

  @Get('matrices/:id/report')
  @Allow(READERS)
  async report(
    @Who() caller: Caller,
    @Param() params: unknown,
    @Query() query: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MatrixReport | string> {
    const input = validate({ params: [idParams, params], query: [reportQuery, query] });
    const report = await this.matrices.report(input.params.id, caller);
    if (input.query.format === 'json') return report;
    res.type('application/xml');
    return renderMatrixJUnit(report);
  }

  @Get('runs/:id')
  @Allow(READERS)
  run(@Who() caller: Caller, @Param() params: unknown): Promise<RunView> {
    return this.runs.view(validate({ params: [idParams, params] }).params.id, caller);
  }

  @Get('runs/:id/attempts/:attempt/artifacts/:name')
  @Allow(READERS)
  async artifact(
    @Who() caller: Caller,
    @Param() params: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { id, attempt, name } = validate({ params: [artifactParams, params] }).params;
    const artifact = await this.runs.artifact(id, attempt, name, caller);
    // Agent-chosen media types are downloaded, never rendered or sniffed by a browser.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    return new StreamableFile(artifact.stream, {
      type: artifact.mediaType,
      length: artifact.size,
      disposition: `attachment; filename="${artifact.name}"`,
    });
  }
}
