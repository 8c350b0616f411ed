import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  summarize,
  type MatrixReport,
  type MatrixRequest,
  type MatrixView,
  type RunJobData,
  type TargetProfile,
  type VerdictRecord,
} from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import { Caller } from '../auth/caller';
import { badRequest, notFound } from '../errors';
import { EventsService } from '../events/events.service';
import type { RunQueue } from '../queue/run-queue';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository, type MatrixRow } from '../store/matrices.repository';
import { RunsService } from '../runs/runs.service';
import { RunsRepository, type RunRow } from '../store/runs.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { TargetsService } from '../targets/targets.service';
import { RUN_QUEUE } from '../tokens';
import { KnownIssuesService } from '../triage/known-issues.service';
import { planMatrix } from './plan';

@Injectable()
export class MatricesService {
  private readonly log = new Logger('MatricesService');

  constructor(
    private readonly matrices: MatricesRepository,
    private readonly runs: RunsRepository,
    private readonly runsService: RunsService,
    private readonly images: ImagesRepository,
    private readonly targets: TargetsService,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
    private readonly events: EventsService,
    private readonly knownIssues: KnownIssuesService,
  ) {}

  /**
   * Validates the whole request, writes the matrix and its runs in one transaction, then queues them.
   * Images and targets the caller may not see are unknown to it, as if they did not exist; the
   * matrix is the caller's (a schedule fires as its owner).
   */
  async create(
    request: MatrixRequest,
    caller: Caller,
    scheduleId: string | null = null,
  ): Promise<MatrixView> {
    const images = new Map((await this.images.getMany(request.images, caller)).map((i) => [i.sha256, i]));
    const targets = new Map<string, TargetProfile>();
    for (const id of new Set(request.targets)) {
      const t = await this.targets.find(id, caller);
      if (t) targets.set(id, t);
    }
    const { cells, errors } = planMatrix(request, images, targets, this.suites.list(), (id, target) =>
      this.suites.refusal(id, target),
    );
    if (errors.length > 0) throw badRequest(`invalid matrix: ${errors.length} problem(s)`, errors);

    const matrix: MatrixRow = {
      id: randomUUID(),
      request,
      createdAt: new Date().toISOString(),
      owner: caller.owner,
      scheduleId,
    };
    const jobs: RunJobData[] = cells.map((c) => ({
      runId: randomUUID(),
      matrixId: matrix.id,
      suite: c.suite,
      target: c.target,
      // The suites get the declared architecture only: one the farm detected they detect themselves.
      image: {
        sha256: c.image.sha256,
        size: c.image.size,
        format: c.image.format,
        arch: c.image.archDeclared ? c.image.arch : null,
      },
      ...(request.ready === undefined ? {} : { ready: request.ready }),
    }));
    await this.matrices.create(
      matrix,
      jobs.map((job, seq) => ({
        id: job.runId,
        matrixId: matrix.id,
        seq,
        job,
        createdAt: matrix.createdAt,
      })),
    );
    // Cells planned as SKIP are done at once; the others go to the agents.
    const queued: RunJobData[] = [];
    for (const [i, job] of jobs.entries()) {
      const skip = cells[i].skip;
      if (skip)
        await this.runsService.recordPlanSkip(job.runId, matrix.id, job.suite, skip, matrix.createdAt);
      else queued.push(job);
    }
    try {
      await this.queue.enqueue(queued);
    } catch (err) {
      // The runs are in SQL: reconciliation queues them once Redis answers again.
      this.log.error(
        `matrix ${matrix.id}: queueing failed, reconciliation will retry: ${(err as Error).message}`,
      );
    }
    this.events
      .matrixChanged(matrix.id)
      .catch((err: Error) => this.log.warn(`matrix ${matrix.id}: event not published: ${err.message}`));
    return this.get(matrix.id, caller);
  }

  private async load(id: string, caller: Caller): Promise<{ matrix: MatrixRow; runs: RunRow[] }> {
    const matrix = await this.matrices.get(id, caller);
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

  async get(id: string, caller: Caller): Promise<MatrixView> {
    const { matrix, runs } = await this.load(id, caller);
    return this.view(matrix, runs);
  }

  /** Newest first; only one schedule's when scheduleId is given. */
  async list(limit: number, caller: Caller, filter: { scheduleId?: string } = {}): Promise<MatrixView[]> {
    const matrices = await this.matrices.list(limit, caller, filter);
    return Promise.all(matrices.map(async (m) => this.view(m, await this.runs.listByMatrix(m.id))));
  }

  async report(id: string, caller: Caller): Promise<MatrixReport> {
    const { matrix, runs } = await this.load(id, caller);
    const view = this.view(matrix, runs);
    const verdicts = await this.runs.finalVerdicts(runs);
    // The matrix is the caller's to see, and so is what its cells ran.
    const images = new Map(
      (await this.images.getMany([...new Set(runs.map((r) => r.image))], Caller.system())).map((i) => [
        i.sha256,
        i,
      ]),
    );
    // Known issues in force now name the FAILs they explain; a run a retry replaced is shown but
    // its retry's verdict is what the summary counts.
    const explained = KnownIssuesService.annotate(
      await this.knownIssues.matcher(),
      runs.map((r) => ({ id: r.id, image: r.image, targetId: r.targetId, matrixOwner: matrix.owner })),
      verdicts,
      images,
    );
    const supersededBy = new Map(runs.flatMap((r) => (r.retryOf ? [[r.retryOf, r.id] as const] : [])));
    const isKnown = new Set<VerdictRecord>(
      runs.flatMap((r) =>
        (verdicts.get(r.id) ?? []).filter((_, i) => (explained.get(r.id)?.[i] ?? []).length > 0),
      ),
    );
    const known = (v: VerdictRecord) => isKnown.has(v);
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
        summary: summarize(v, known),
        known: KnownIssuesService.split(v, explained.get(r.id) ?? []).known,
        retryOf: r.retryOf,
        supersededBy: supersededBy.get(r.id) ?? null,
      };
    });
    return {
      matrix: { id: matrix.id, createdAt: matrix.createdAt, state: view.state, progress: view.progress },
      cells,
      summary: summarize(
        cells.filter((c) => c.supersededBy === null).flatMap((c) => c.verdicts),
        known,
      ),
    };
  }
}
