import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  summarize,
  type MatrixReport,
  type MatrixRequest,
  type MatrixView,
  type RunJobData,
  type TargetProfile,
} from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import { badRequest, notFound } from '../errors';
import { EventsService } from '../events/events.service';
import type { RunQueue } from '../queue/run-queue';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository, type MatrixRow } from '../store/matrices.repository';
import { RunsRepository, type RunRow } from '../store/runs.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { TargetsService } from '../targets/targets.service';
import { RUN_QUEUE } from '../tokens';
import { planMatrix } from './plan';

@Injectable()
export class MatricesService {
  private readonly log = new Logger('MatricesService');

  constructor(
    private readonly matrices: MatricesRepository,
    private readonly runs: RunsRepository,
    private readonly images: ImagesRepository,
    private readonly targets: TargetsService,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
    private readonly events: EventsService,
  ) {}

  /** Validates the whole request, writes the matrix and its runs in one transaction, then queues them. */
  async create(request: MatrixRequest, scheduleId: string | null = null): Promise<MatrixView> {
    const images = new Map((await this.images.getMany(request.images)).map((i) => [i.sha256, i]));
    const targets = new Map<string, TargetProfile>();
    for (const id of new Set(request.targets)) {
      const t = await this.targets.find(id);
      if (t) targets.set(id, t);
    }
    const { cells, errors } = planMatrix(request, images, targets, this.suites.list());
    if (errors.length > 0) throw badRequest(`invalid matrix: ${errors.length} problem(s)`, errors);

    const matrix: MatrixRow = { id: randomUUID(), request, createdAt: new Date().toISOString(), scheduleId };
    const jobs: RunJobData[] = cells.map((c) => ({
      runId: randomUUID(),
      matrixId: matrix.id,
      suite: c.suite,
      target: c.target,
      image: { sha256: c.image.sha256, size: c.image.size, format: c.image.format, arch: c.image.arch },
      ...(request.ready === undefined ? {} : { ready: request.ready }),
    }));
    await this.matrices.create(
      matrix,
      jobs.map((job, seq) => ({ id: job.runId, matrixId: matrix.id, seq, job, createdAt: matrix.createdAt })),
    );
    try {
      await this.queue.enqueue(jobs);
    } catch (err) {
      // The runs are in SQL: reconciliation queues them once Redis answers again.
      this.log.error(
        `matrix ${matrix.id}: queueing failed, reconciliation will retry: ${(err as Error).message}`,
      );
    }
    this.events
      .matrixChanged(matrix.id)
      .catch((err: Error) => this.log.warn(`matrix ${matrix.id}: event not published: ${err.message}`));
    return this.get(matrix.id);
  }

  private async load(id: string): Promise<{ matrix: MatrixRow; runs: RunRow[] }> {
    const matrix = await this.matrices.get(id);
    if (!matrix) throw notFound(`no matrix ${id}`);
    return { matrix, runs: await this.runs.listByMatrix(id) };
  }

  private view(matrix: MatrixRow, runs: readonly RunRow[]): MatrixView {
    const done = runs.filter((r) => r.state === 'done').length;
    return {
      id: matrix.id,
      createdAt: matrix.createdAt,
      scheduleId: matrix.scheduleId,
      state: done === runs.length ? 'done' : 'running',
      progress: { done, total: runs.length },
      request: matrix.request,
      cells: runs.map((r) => ({
        runId: r.id,
        image: r.image,
        target: r.targetId,
        suite: r.suite,
        state: r.state,
        verdict: r.verdict,
        attempts: r.attempts,
      })),
    };
  }

  async get(id: string): Promise<MatrixView> {
    const { matrix, runs } = await this.load(id);
    return this.view(matrix, runs);
  }

  async list(limit = 50, filter: { scheduleId?: string } = {}): Promise<MatrixView[]> {
    const matrices = await this.matrices.list(limit, filter);
    return Promise.all(matrices.map(async (m) => this.view(m, await this.runs.listByMatrix(m.id))));
  }

  async report(id: string): Promise<MatrixReport> {
    const { matrix, runs } = await this.load(id);
    const view = this.view(matrix, runs);
    const verdicts = await this.runs.finalVerdicts(runs);
    const images = new Map(
      (await this.images.getMany([...new Set(runs.map((r) => r.image))])).map((i) => [i.sha256, i]),
    );
    const cells = runs.map((r) => {
      const image = images.get(r.image);
      const v = verdicts.get(r.id) ?? [];
      return {
        runId: r.id,
        target: r.targetId,
        suite: r.suite,
        state: r.state,
        attempts: r.attempts,
        image: {
          sha256: r.image,
          size: image?.size ?? r.job.image.size,
          format: image?.format ?? r.job.image.format,
          arch: image?.arch ?? r.job.image.arch,
        },
        verdicts: v,
        summary: summarize(v),
      };
    });
    return {
      matrix: { id: matrix.id, createdAt: matrix.createdAt, state: view.state, progress: view.progress },
      cells,
      summary: summarize(cells.flatMap((c) => c.verdicts)),
    };
  }
}
