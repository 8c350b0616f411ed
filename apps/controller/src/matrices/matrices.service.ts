import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  LIMITS,
  summarize,
  type MatrixReport,
  type MatrixRequest,
  type MatrixSummary,
  type MatrixView,
  type PayloadManifest,
  type RunJobData,
  type SuiteInfo,
  type TargetProfile,
  type VerdictRecord,
} from '@vmfarm/protocol';
import { refusePayload } from '@vmfarm/suites';
import { createHash, randomUUID } from 'node:crypto';
import { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { ApiHttpError, badRequest, notFound } from '../errors';
import { EventsService } from '../events/events.service';
import type { RunQueue } from '../queue/run-queue';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository, type MatrixRow } from '../store/matrices.repository';
import { RunsService } from '../runs/runs.service';
import { RunsRepository, type AttemptRecord, type RunRow } from '../store/runs.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { TargetsService } from '../targets/targets.service';
import { withTimeout } from '../timeout';
import { RunCompletion } from '../triage/completion';
import { KnownIssuesService } from '../triage/known-issues.service';
import { CONFIG, RUN_QUEUE } from '../tokens';
import { PayloadsService } from '../payloads/payloads.service';
import { cellCount, planMatrix, type PlannedPayload } from './plan';

const requestHash = (r: MatrixRequest) => createHash('sha256').update(JSON.stringify(r)).digest('hex');

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
    @Inject(CONFIG) private readonly config: ControllerConfig,
    private readonly events: EventsService,
    private readonly knownIssues: KnownIssuesService,
    private readonly completion: RunCompletion,
    private readonly payloads: PayloadsService,
  ) {}

  private redis<T>(work: () => Promise<T>, what: string): Promise<T> {
    const ms = this.config.limits.redisTimeoutMs;
    return withTimeout(
      work(),
      ms,
      `Redis did not answer within ${ms} ms (${LIMITS.redisTimeoutMs.env})`,
    ).catch((err: Error) => {
      throw new ApiHttpError(
        503,
        `${what}: the queue (Redis) is unavailable: ${err.message}; nothing was written`,
      );
    });
  }

  /**
   * `POST /api/matrices`: a repeat of an Idempotency-Key (per token) answers the matrix the first
   * request made, without making another; the same key with another request is a 422.
   */
  async submit(
    request: MatrixRequest,
    caller: Caller,
    options: { idempotencyKey?: string } = {},
  ): Promise<{ matrix: MatrixView; replayed: boolean }> {
    const key = options.idempotencyKey;
    const idempotency = key && { scope: caller.identity.id, key, requestSha256: requestHash(request) };
    if (idempotency) {
      const replay = await this.replay(idempotency, caller);
      if (replay) return { matrix: replay, replayed: true };
    }
    try {
      return { matrix: await this.create(request, caller, null, idempotency || undefined), replayed: false };
    } catch (err) {
      // The same key submitted concurrently: the other request made the matrix.
      const replay = idempotency && (await this.replay(idempotency, caller));
      if (replay) return { matrix: replay, replayed: true };
      throw err;
    }
  }

  private async replay(
    idempotency: { scope: string; key: string; requestSha256: string },
    caller: Caller,
  ): Promise<MatrixView | undefined> {
    const seen = await this.matrices.idempotency(idempotency.scope, idempotency.key);
    if (!seen) return undefined;
    if (seen.requestSha256 !== idempotency.requestSha256)
      throw new ApiHttpError(
        422,
        `Idempotency-Key ${idempotency.key} was used for another request (matrix ${seen.matrixId}): use a new key`,
      );
    return this.get(seen.matrixId, caller);
  }

  /**
   * The suites a request may name: the registry's, and the payloads the caller sees named as a
   * requested suite (`vbsa`), each with its disk image and what its runs get.
   */
  private async payloadSuites(request: MatrixRequest, caller: Caller) {
    const suites: SuiteInfo[] = [...this.suites.list()];
    const planned = new Map<string, PlannedPayload>();
    const refs = new Map<string, { manifest: PayloadManifest; sha256: string }>();
    for (const id of new Set(request.suites)) {
      if (this.suites.get(id)) continue;
      const p = await this.payloads.byName(id, caller);
      const image = p && (await this.images.getMany([p.image], caller))[0];
      if (!p || !image) continue;
      suites.push({
        id,
        title: p.manifest.title ?? `${p.name} ${p.version}`,
        subject: 'vm',
        clauses: [],
        targetKinds: ['qemu'],
      });
      planned.set(id, { image });
      refs.set(id, { manifest: p.manifest, sha256: p.sha256 });
    }
    return { suites, planned, refs };
  }

  /**
   * Validates the whole request, writes the matrix, its runs (and the results of cells planned as
   * SKIP) in one transaction, then queues them. When Redis does not answer, nothing is written (or
   * what was is removed again) and the answer is a 503: a retry cannot duplicate the matrix.
   * Images and targets the caller may not see are unknown to it; the matrix is the caller's (a
   * schedule fires as its owner).
   */
  async create(
    request: MatrixRequest,
    caller: Caller,
    scheduleId: string | null = null,
    idempotency?: { scope: string; key: string; requestSha256: string },
  ): Promise<MatrixView> {
    const targets = new Map<string, TargetProfile>();
    for (const id of new Set(request.targets)) {
      const t = await this.targets.find(id, caller);
      if (t) targets.set(id, t);
    }
    const { matrixCells, tenantActiveCells } = this.config.limits;
    const asked = cellCount(request, targets, this.suites.list());
    if (asked > matrixCells)
      throw badRequest(
        `a matrix of ${asked} cells is over the limit of ${matrixCells} (${LIMITS.matrixCells.env}): split it`,
        [{ path: 'body', message: `${asked} cells (images × targets × suites), at most ${matrixCells}` }],
      );
    const images = new Map((await this.images.getMany(request.images, caller)).map((i) => [i.sha256, i]));
    const { suites, planned, refs } = await this.payloadSuites(request, caller);
    const { cells, errors } = planMatrix(
      request,
      images,
      targets,
      suites,
      (id, target) =>
        refs.has(id) ? refusePayload(refs.get(id)!.manifest, target) : this.suites.refusal(id, target),
      planned,
    );
    if (errors.length > 0) throw badRequest(`invalid matrix: ${errors.length} problem(s)`, errors);
    const tenant = caller.scope;
    if (tenant !== undefined && tenantActiveCells > 0) {
      const active = await this.runs.countUnfinishedOf(tenant);
      const added = cells.filter((c) => !c.skip).length;
      if (active + added > tenantActiveCells)
        throw new ApiHttpError(
          429,
          `tenant ${tenant} has ${active} runs not done; ${added} more would pass the limit of ${tenantActiveCells} (${LIMITS.tenantActiveCells.env}): wait for some to finish`,
        );
    }
    // Redis first: when it is away, the answer is a 503 at once and nothing is written.
    await this.redis(() => this.queue.ping(), 'cannot submit the matrix');

    const matrix: MatrixRow = {
      id: randomUUID(),
      request,
      createdAt: new Date().toISOString(),
      owner: caller.owner,
      scheduleId,
      cancelled: null,
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
      ...(refs.has(c.suite) ? { payload: refs.get(c.suite)! } : {}),
    }));
    // Cells planned as SKIP are done at once; the others go to the agents.
    const skipped: AttemptRecord[] = [];
    const queued: RunJobData[] = [];
    for (const [i, job] of jobs.entries()) {
      const skip = cells[i].skip;
      if (skip) skipped.push(this.runsService.planSkip(job.runId, job.suite, skip, matrix.createdAt));
      else queued.push(job);
    }
    await this.matrices.create(
      matrix,
      jobs.map((job, seq) => ({ id: job.runId, matrixId: matrix.id, seq, job, createdAt: matrix.createdAt })),
      skipped,
      idempotency && { ...idempotency, matrixId: matrix.id },
    );
    try {
      // Longest first: an agent running attempts side by side then ends with short runs in every
      // slot, not with one long run alone (the queue hands out jobs in the order they were added).
      const longestFirst = [...queued].sort(
        (a, b) => this.suites.typicalSeconds(b.suite) - this.suites.typicalSeconds(a.suite),
      );
      await this.redis(() => this.queue.enqueue(longestFirst), 'cannot queue the matrix');
    } catch (err) {
      // Undone, so that the client's retry makes it once; a job Redis took after all finds no run
      // and its agent drops it.
      await this.matrices.remove(matrix.id);
      this.log.warn(`matrix ${matrix.id} removed again: ${(err as Error).message}`);
      throw err;
    }
    this.events
      .matrixChanged(matrix.id)
      .catch((err: Error) => this.log.warn(`matrix ${matrix.id}: event not published: ${err.message}`));
    // Every cell planned as SKIP: the matrix is done already.
    if (queued.length === 0) this.completion.runDone(matrix.id);
    return this.get(matrix.id, caller);
  }

  /**
   * Cancels a matrix: each run not done ends SKIP with the reason (RunsService.cancel), queued jobs
   * leave the queue, and agents running one stop it at their next heartbeat. A matrix already done
   * or cancelled is answered as it is.
   */
  async cancel(id: string, reason: string | undefined, caller: Caller): Promise<MatrixView> {
    const { matrix, runs } = await this.load(id, caller);
    if (!caller.canWrite(matrix.owner))
      throw new ApiHttpError(403, `matrix ${id} is public: only an admin may cancel it`);
    const open = runs.filter((r) => r.state !== 'done');
    if (open.length === 0) return this.view(matrix, runs);
    const at = new Date().toISOString();
    const why = `cancelled by ${caller.identity.name} at ${at}${reason ? `: ${reason}` : ''}`;
    await this.matrices.setCancelled(id, { at, by: caller.identity.name, reason: reason ?? '' });
    const ended = await this.runsService.cancelRuns(open, why, at);
    // Queued or waiting for a retry: out of the queue (an agent that took one meanwhile is told the
    // run is done when it starts the attempt). Running ones are their agents' to stop.
    const queued = open.filter((r) => ended.has(r.id) && r.state !== 'running');
    for (let i = 0; i < queued.length; i += 100)
      await this.redis(
        () => Promise.all(queued.slice(i, i + 100).map((r) => this.queue.remove(r.job.target.kind, r.id))),
        'cannot remove queued runs',
      ).catch((err: Error) => this.log.warn(`matrix ${id}: ${err.message}`));
    this.events
      .matrixChanged(id)
      .catch((err: Error) => this.log.warn(`matrix ${id}: event not published: ${err.message}`));
    if (ended.size > 0) this.completion.runDone(id);
    return this.get(id, caller);
  }

  private async load(id: string, caller: Caller): Promise<{ matrix: MatrixRow; runs: RunRow[] }> {
    const matrix = await this.matrices.get(id, caller);
    if (!matrix) throw notFound(`no matrix ${id}`);
    return { matrix, runs: await this.runs.listByMatrix(id) };
  }

  private async view(matrix: MatrixRow, runs: readonly RunRow[]): Promise<MatrixView> {
    const done = runs.filter((r) => r.state === 'done').length;
    const failing = await this.runs.failingClauses(runs);
    return {
      id: matrix.id,
      createdAt: matrix.createdAt,
      scheduleId: matrix.scheduleId,
      state: done === runs.length ? 'done' : 'running',
      progress: { done, total: runs.length },
      cancelled: matrix.cancelled,
      request: matrix.request,
      cells: runs.map((r) => ({
        runId: r.id,
        image: r.image,
        target: r.targetId,
        suite: r.suite,
        state: r.state,
        verdict: r.verdict,
        attempts: r.attempts,
        failing: failing.get(r.id) ?? [],
      })),
    };
  }

  async get(id: string, caller: Caller): Promise<MatrixView> {
    const { matrix, runs } = await this.load(id, caller);
    return this.view(matrix, runs);
  }

  /** Newest first, as summaries; only one schedule's when scheduleId is given. */
  async list(
    page: { limit: number; offset: number },
    caller: Caller,
    filter: { scheduleId?: string } = {},
  ): Promise<MatrixSummary[]> {
    const matrices = await this.matrices.list(page, caller, filter);
    const counts = await this.matrices.counts(matrices.map((m) => m.id));
    return matrices.map((m) => {
      const c = counts.get(m.id)!;
      return {
        id: m.id,
        createdAt: m.createdAt,
        scheduleId: m.scheduleId,
        state: c.done === c.total ? 'done' : 'running',
        progress: { done: c.done, total: c.total },
        cancelled: m.cancelled,
        counts: c.verdicts,
        request: { images: m.request.images.length, targets: m.request.targets, suites: m.request.suites },
      };
    });
  }

  /** The report; with `offset`/`limit`, of those cells only (the summary still counts every cell). */
  async report(
    id: string,
    caller: Caller,
    page: { offset?: number; limit?: number } = {},
  ): Promise<MatrixReport> {
    const { matrix, runs: all } = await this.load(id, caller);
    const done = all.filter((r) => r.state === 'done').length;
    const paged = page.offset !== undefined || page.limit !== undefined;
    const offset = page.offset ?? 0;
    const runs = paged ? all.slice(offset, offset + (page.limit ?? all.length)) : all;
    // Summaries count every cell, not only the page's.
    const verdicts = await this.runs.finalVerdicts(paged ? all : runs);
    // The matrix is the caller's to see, and so is what its cells ran.
    const images = new Map(
      (await this.images.getMany([...new Set(all.map((r) => r.image))], Caller.system())).map((i) => [
        i.sha256,
        i,
      ]),
    );
    // Known issues in force now name the FAILs they explain; a run a retry replaced is shown but
    // its retry's verdict is what the summary counts.
    const explained = KnownIssuesService.annotate(
      await this.knownIssues.matcher(),
      all.map((r) => ({ id: r.id, image: r.image, targetId: r.targetId, matrixOwner: matrix.owner })),
      verdicts,
      images,
    );
    const supersededBy = new Map(all.flatMap((r) => (r.retryOf ? [[r.retryOf, r.id] as const] : [])));
    const isKnown = new Set<VerdictRecord>(
      all.flatMap((r) =>
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
          name: image?.name ?? `image-${r.image.slice(0, 12)}`,
          version: image?.version ?? null,
        },
        verdicts: v,
        summary: summarize(v, known),
        known: KnownIssuesService.split(v, explained.get(r.id) ?? []).known,
        retryOf: r.retryOf,
        supersededBy: supersededBy.get(r.id) ?? null,
      };
    });
    const summary = summarize(
      all.filter((r) => !supersededBy.has(r.id)).flatMap((r) => verdicts.get(r.id) ?? []),
      known,
    );
    return {
      matrix: {
        id: matrix.id,
        createdAt: matrix.createdAt,
        state: done === all.length ? 'done' : 'running',
        progress: { done, total: all.length },
      },
      cells,
      ...(paged ? { page: { offset, limit: page.limit ?? all.length, total: all.length } } : {}),
      summary,
    };
  }
}
