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

/** History, trends, regressions and certification: SQL reads, then the pure functions of analysis.ts. */
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

  async series(filter: HistoryFilter, matrices: number): Promise<HistorySeries[]> {
    return historySeries(await this.history.clauseVerdicts(filter, matrices));
  }

  async trend(filter: HistoryFilter, matrices: number): Promise<TrendPoint[]> {
    return trend(await this.history.clauseVerdicts(filter, matrices));
  }

  private async compare(
    latest: MatrixRow | undefined,
    previous: MatrixRow | undefined,
  ): Promise<Regressions> {
    const rows = async (m: MatrixRow | undefined) =>
      m && {
        matrixId: m.id,
        at: m.createdAt,
        rows: await this.history.clauseVerdicts({ matrixIds: [m.id] }, 1),
      };
    return compareMatrices((await rows(latest)) ?? null, (await rows(previous)) ?? null);
  }

  /** The schedule's latest finished matrix against the finished one before it. */
  async scheduleRegressions(scheduleId: string): Promise<Regressions> {
    if (!(await this.schedules.get(scheduleId))) throw notFound(`no schedule ${scheduleId}`);
    const [latest, previous] = await this.matrices.finishedOfSchedule(scheduleId, 2);
    return this.compare(latest, previous);
  }

  /** A matrix against another, or (by default) against its schedule's finished matrix before it. */
  async matrixRegressions(id: string, against: string | undefined): Promise<Regressions> {
    const matrix = await this.matrices.get(id);
    if (!matrix) throw notFound(`no matrix ${id}`);
    let previous: MatrixRow | undefined;
    if (against !== undefined) {
      previous = await this.matrices.get(against);
      if (!previous) throw notFound(`no matrix ${against}`);
    } else if (matrix.scheduleId !== null) {
      [previous] = await this.matrices.finishedOfSchedule(matrix.scheduleId, 1, matrix.createdAt);
    } else
      throw badRequest(`matrix ${id} belongs to no schedule: say which matrix to compare with (?against=ID)`);
    return this.compare(matrix, previous);
  }

  /** The hypervisor vendor's question: every clause, as this target was last judged on it. */
  async certifyTarget(id: string): Promise<Certification> {
    const target = await this.targets.get(id);
    const covered = new Set(
      this.suites
        .list()
        .filter((s) => s.targetKinds.includes(target.kind))
        .flatMap((s) => s.clauses),
    );
    const clauses = certify(CLAUSES, covered, await this.history.latestPerClause({ targetId: id }));
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
  async certifyImage(sha256: string): Promise<Certification> {
    const image = await this.images.get(sha256);
    if (!image) throw notFound(`no image ${sha256}`);
    const covered = new Set(this.suites.list().flatMap((s) => s.clauses));
    const clauses = certify(CLAUSES, covered, await this.history.latestPerClause({ imageSha256: sha256 }));
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
