import { Inject, Injectable } from '@nestjs/common';
import { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { notFound } from '../errors';
import { ImagesRepository } from '../store/images.repository';
import { KnownIssuesRepository } from '../store/known-issues.repository';
import { MatricesRepository } from '../store/matrices.repository';
import { RunsRepository } from '../store/runs.repository';
import { TargetsService } from '../targets/targets.service';
import { CONFIG } from '../tokens';
import { toKcidb, type KcidbImage, type KcidbRun } from './kcidb';
import { KnownIssuesService } from './known-issues.service';

/** `GET /api/matrices/:id/kcidb`: a matrix as KCIDB v5 report data. */
@Injectable()
export class KcidbService {
  constructor(
    private readonly matrices: MatricesRepository,
    private readonly runs: RunsRepository,
    private readonly images: ImagesRepository,
    private readonly targets: TargetsService,
    private readonly issues: KnownIssuesRepository,
    private readonly knownIssues: KnownIssuesService,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  /** `baseUrl`: where the caller reached the controller, when VMFARM_PUBLIC_URL does not say. */
  async export(matrixId: string, caller: Caller, baseUrl?: string): Promise<Record<string, unknown>> {
    const matrix = await this.matrices.get(matrixId, caller);
    if (!matrix) throw notFound(`no matrix ${matrixId}`);
    const runs = await this.runs.listByMatrix(matrixId);
    const verdicts = await this.runs.finalVerdicts(runs);
    const shas = [...new Set(runs.map((r) => r.image))];
    const imageList = await this.images.getMany(shas, Caller.system());
    const images = new Map<string, KcidbImage>(imageList.map((i) => [i.sha256, i]));
    const targets = new Map<string, { description: string; kind: string }>();
    for (const id of new Set(runs.map((r) => r.targetId))) {
      const t = await this.targets.find(id, Caller.system());
      if (t) targets.set(id, { description: t.description, kind: t.kind });
    }
    const explained = KnownIssuesService.annotate(
      await this.knownIssues.matcher(),
      runs.map((r) => ({ id: r.id, image: r.image, targetId: r.targetId, matrixOwner: matrix.owner })),
      verdicts,
      images,
    );
    const supersededBy = new Map(runs.flatMap((r) => (r.retryOf ? [[r.retryOf, r.id] as const] : [])));
    const kcidbRuns: KcidbRun[] = [];
    for (const r of runs) {
      const final = (await this.runs.attempts(r.id)).find((a) => a.attempt === r.finalAttempt);
      kcidbRuns.push({
        id: r.id,
        image: r.image,
        targetId: r.targetId,
        suite: r.suite,
        state: r.state,
        verdict: r.verdict,
        startedAt: final?.startedAt ?? null,
        finishedAt: r.finishedAt,
        durationMs: final?.durationMs ?? null,
        retryOf: r.retryOf,
        supersededBy: supersededBy.get(r.id) ?? null,
        verdicts: verdicts.get(r.id) ?? [],
        known: explained.get(r.id) ?? [],
        artifacts: await this.runs.artifacts(r.id),
      });
    }
    return toKcidb({
      matrix: { id: matrix.id, createdAt: matrix.createdAt, scheduleId: matrix.scheduleId },
      images,
      targets,
      runs: kcidbRuns,
      issues: await this.issues.open(),
      baseUrl: this.config.publicUrl ?? baseUrl,
    });
  }
}
