import { Inject, Injectable } from '@nestjs/common';
import {
  CERTIFICATION_VERDICTS,
  CLAUSES,
  type Certification,
  type CertificationClause,
  type HistorySeries,
  type Regressions,
  type TrendPoint,
} from '@vmfarm/protocol';
import type { Caller } from '../auth/caller';
import { badRequest, notFound } from '../errors';
import { HistoryRepository, type HistoryFilter } from '../store/history.repository';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository, type MatrixRow } from '../store/matrices.repository';
import { SchedulesRepository } from '../store/schedules.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { TargetsService } from '../targets/targets.service';
import { certify, compareMatrices, historySeries, trend } from './analysis';

function counts(clauses: readonly CertificationClause[]): Certification['counts'] {
  const out = Object.fromEntries(CERTIFICATION_VERDICTS.map((v) => [v, 0])) as Certification['counts'];
  for (const c of clauses) out[c.verdict]++;
  return out;
}

/**
 * History, trends, regressions and certification: SQL reads, then the pure functions of analysis.ts.
 * Every read is the caller's: a vendor's covers only runs of matrices, images and targets it may see.
 */
@Injectable()
export class HistoryService {
  constructor(
    private readonly history: HistoryRepository,
    private readonly matrices: MatricesRepository,
    private readonly schedules: SchedulesRepository,
    private readonly images: ImagesRepository,
    private readonly targets: TargetsService,
    @Inject(SUITE_CATALOG) private readonly suites: SuiteCatalog,
  ) {}

  /** A schedule filter naming a schedule the caller may not see is a 404, as on its own routes. */
  private async checkSchedule(scheduleId: string | undefined, caller: Caller): Promise<void> {
    if (scheduleId !== undefined && !(await this.schedules.get(scheduleId, caller)))
      throw notFound(`no schedule ${scheduleId}`);
  }

  async series(filter: HistoryFilter, matrices: number, caller: Caller): Promise<HistorySeries[]> {
    return historySeries(await this.history.clauseVerdicts(filter, matrices, caller));
  }

  async trend(filter: HistoryFilter, matrices: number, caller: Caller): Promise<TrendPoint[]> {
    await this.checkSchedule(filter.scheduleId, caller);
    return trend(await this.history.clauseVerdicts(filter, matrices, caller));
  }

  private async compare(
    latest: MatrixRow | undefined,
    previous: MatrixRow | undefined,
    caller: Caller,
  ): Promise<Regressions> {
    const rows = async (m: MatrixRow | undefined) =>
      m && {
        matrixId: m.id,
        at: m.createdAt,
        rows: await this.history.clauseVerdicts({ matrixIds: [m.id] }, 1, caller),
      };
    return compareMatrices((await rows(latest)) ?? null, (await rows(previous)) ?? null);
  }

  /** The schedule's latest finished matrix against the finished one before it. */
  async scheduleRegressions(scheduleId: string, caller: Caller): Promise<Regressions> {
    await this.checkSchedule(scheduleId, caller);
    const [latest, previous] = await this.matrices.finishedOfSchedule(scheduleId, caller, 2);
    return this.compare(latest, previous, caller);
  }

  /** A matrix against another, or (by default) against its schedule's finished matrix before it. */
  async matrixRegressions(id: string, against: string | undefined, caller: Caller): Promise<Regressions> {
    const matrix = await this.matrices.get(id, caller);
    if (!matrix) throw notFound(`no matrix ${id}`);
    let previous: MatrixRow | undefined;
    if (against !== undefined) {
      previous = await this.matrices.get(against, caller);
      if (!previous) throw notFound(`no matrix ${against}`);
    } else if (matrix.scheduleId !== null) {
      [previous] = await this.matrices.finishedOfSchedule(matrix.scheduleId, caller, 1, matrix.createdAt);
    } else
      throw badRequest(`matrix ${id} belongs to no schedule: say which matrix to compare with (?against=ID)`);
    return this.compare(matrix, previous, caller);
  }

  /** The hypervisor vendor's question: every clause, as this target was last judged on it. */
  async certifyTarget(id: string, caller: Caller): Promise<Certification> {
    const target = await this.targets.get(id, caller);
    const covered = new Set(
      this.suites
        .list()
        .filter((s) => s.targetKinds.includes(target.kind))
        .flatMap((s) => s.clauses),
    );
    const clauses = certify(CLAUSES, covered, await this.history.latestPerClause({ targetId: id }, caller));
    return {
      kind: 'target',
      id,
      name: id,
      version: null,
      generatedAt: new Date().toISOString(),
      counts: counts(clauses),
      clauses,
    };
  }

  /** The distro vendor's question: every clause, as this image was last judged on any target. */
  async certifyImage(sha256: string, caller: Caller): Promise<Certification> {
    const image = await this.images.get(sha256, caller);
    if (!image) throw notFound(`no image ${sha256}`);
    const covered = new Set(this.suites.list().flatMap((s) => s.clauses));
    const clauses = certify(
      CLAUSES,
      covered,
      await this.history.latestPerClause({ imageSha256: sha256 }, caller),
    );
    return {
      kind: 'image',
      id: sha256,
      name: image.name,
      version: image.version,
      generatedAt: new Date().toISOString(),
      counts: counts(clauses),
      clauses,
    };
  }
}
