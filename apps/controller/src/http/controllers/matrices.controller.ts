import { Controller, Res, StreamableFile } from '@nestjs/common';
import {
  API,
  renderMatrixJUnit,
  type MatrixReport,
  type MatrixSummary,
  type MatrixView,
  type RunView,
} from '@vmfarm/protocol';
import type { Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { MatricesService } from '../../matrices/matrices.service';
import { RunsService } from '../../runs/runs.service';
import { In, Route } from '../route';

@Controller()
export class MatricesController {
  constructor(
    private readonly matrices: MatricesService,
    private readonly runs: RunsService,
  ) {}

  /** 201 for a new matrix; 200 for a repeat of an Idempotency-Key, answering the matrix it made. */
  @Route(API.createMatrix)
  async create(
    @Who() caller: Caller,
    @In() input: In<typeof API.createMatrix>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MatrixView> {
    const { matrix, replayed } = await this.matrices.submit(input.body, caller, {
      idempotencyKey: input.headers['idempotency-key'],
    });
    if (replayed) res.status(200);
    return matrix;
  }

  @Route(API.listMatrices)
  list(@Who() caller: Caller, @In() input: In<typeof API.listMatrices>): Promise<MatrixSummary[]> {
    const { schedule, ...page } = input.query;
    return this.matrices.list(page, caller, { scheduleId: schedule });
  }

  @Route(API.getMatrix)
  get(@Who() caller: Caller, @In() input: In<typeof API.getMatrix>): Promise<MatrixView> {
    return this.matrices.get(input.params.id, caller);
  }

  @Route(API.cancelMatrix)
  cancel(@Who() caller: Caller, @In() input: In<typeof API.cancelMatrix>): Promise<MatrixView> {
    return this.matrices.cancel(input.params.id, input.body.reason, caller);
  }

  @Route(API.getMatrixReport)
  async report(
    @Who() caller: Caller,
    @In() input: In<typeof API.getMatrixReport>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MatrixReport | string> {
    const { format, offset, limit } = input.query;
    const report = await this.matrices.report(input.params.id, caller, { offset, limit });
    if (format === 'json') return report;
    res.type('application/xml');
    return renderMatrixJUnit(report);
  }

  @Route(API.getRun)
  run(@Who() caller: Caller, @In() input: In<typeof API.getRun>): Promise<RunView> {
    return this.runs.view(input.params.id, caller);
  }

  @Route(API.getArtifact)
  async artifact(
    @Who() caller: Caller,
    @In() input: In<typeof API.getArtifact>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { id, attempt, name } = input.params;
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
