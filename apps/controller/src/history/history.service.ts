import { Inject, Injectable } from '@nestjs/common';
import {
  CERTIFICATION_VERDICTS,
  CLAUSES,
  type Certification,
  type HistorySeries,
  type KnownRef,
  type TrendPoint,
  type TriagedCertification,
  type TriagedCertificationClause,
  type TriagedRegressions,
} from '@vmfarm/protocol';
import type { Caller } from '../auth/caller';
import { badRequest, notFound } from '../errors';
import { HistoryRepository, type ClauseVerdictRow, type HistoryFilter } from '../store/history.repository';
import { ImagesRepository } from '../store/images.repository';
import { MatricesRepository, type MatrixRow } from '../store/matrices.repository';
import { RunsRepository } from '../store/runs.repository';
import { SchedulesRepository } from '../store/schedules.repository';
import { SUITE_CATALOG, type SuiteCatalog } from '../suites';
import { TargetsService } from '../targets/targets.service';
import { KnownIssuesService } from '../triage/known-issues.service';
import { flakyCells } from '../triage/settlement';
import { certify, compareMatrices, historySeries, payloadRules, trend } from './analysis';

function counts(clauses: readonly TriagedCertificationClause[]): Certification['counts'] {
  const out = Object.fromEntries(CERTIFICATION_VERDICTS.map((v) => [v, 0])) as Certification['counts'];
  for (const c of clauses) out[c.verdict]++;
  return out;
}

/** The waivers in force on a certificate, and whether it is all PASS (never while one is). */
function verdictOf(clauses: readonly TriagedCertificationClause[]) {
  const waivers = new Map<string, KnownRef>();
  for (const c of clauses) for (const w of c.waivedBy) waivers.set(w.id, w);
  const allPass =
    waivers.size === 0 && clauses.every((c) => ['PASS', 'SKIP', 'NOT-COVERED'].includes(c.verdict));
  return { waivers: [...waivers.values()], allPass };
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
    private readonly runs: RunsRepository,
    private readonly knownIssues: KnownIssuesService,
  ) {}

  /** Explains FAIL rows by the known issues in force now. */
  private async explainer(rows: readonly ClauseVerdictRow[]): Promise<(r: ClauseVerdictRow) => KnownRef[]> {
    const matcher = await this.knownIssues.matcher();
    if (matcher.size === 0) return () => [];
    const tags = await this.knownIssues.tagsOf(
      rows.filter((r) => r.verdict === 'FAIL').map((r) => r.imageSha256),
    );
    return KnownIssuesService.explainer(matcher, tags);
  }

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

  /**
   * Two matrices compared, with triage: known issues in force now explain PASS → FAIL, and the
   * later matrix's flaky cells (retries that passed) are listed.
   */
  private async compare(
    latest: MatrixRow | undefined,
    previous: MatrixRow | undefined,
    caller: Caller,
  ): Promise<TriagedRegressions> {
    const rows = async (m: MatrixRow | undefined) =>
      m && {
        matrixId: m.id,
        at: m.createdAt,
        rows: await this.history.clauseVerdicts({ matrixIds: [m.id] }, 1, caller),
      };
    const [l, p] = [(await rows(latest)) ?? null, (await rows(previous)) ?? null];
    const out = compareMatrices(l, p, await this.explainer(l?.rows ?? []));
    if (latest) {
      const runs = await this.runs.listByMatrix(latest.id);
      if (runs.some((r) => r.retryOf !== null)) {
        const names = new Map(
          (await this.images.getMany([...new Set(runs.map((r) => r.image))], caller)).map((i) => [
            i.sha256,
            i.name,
          ]),
        );
        out.flaky = flakyCells(
          runs.map((r) => ({ ...r, imageName: names.get(r.image) ?? r.image.slice(0, 12) })),
        );
      }
    }
    return out;
  }

  /** The schedule's latest finished matrix against the finished one before it. */
  async scheduleRegressions(scheduleId: string, caller: Caller): Promise<TriagedRegressions> {
    await this.checkSchedule(scheduleId, caller);
    const [latest, previous] = await this.matrices.finishedOfSchedule(scheduleId, caller, 2);
    return this.compare(latest, previous, caller);
  }

  /** A matrix against another, or (by default) against its schedule's finished matrix before it. */
  async matrixRegressions(
    id: string,
    against: string | undefined,
    caller: Caller,
  ): Promise<TriagedRegressions> {
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
  async certifyTarget(id: string, caller: Caller): Promise<TriagedCertification> {
    const target = await this.targets.get(id, caller);
    const covered = new Set(
      this.suites
        .list()
        .filter((s) => s.targetKinds.includes(target.kind))
        .flatMap((s) => s.clauses),
    );
    const latest = await this.history.latestPerClause({ targetId: id }, caller);
    const clauses = certify(CLAUSES, covered, latest, await this.explainer(latest));
    return {
      kind: 'target',
      id,
      name: id,
      version: null,
      generatedAt: new Date().toISOString(),
      counts: counts(clauses),
      clauses,
      payloads: payloadRules(latest),
      ...verdictOf(clauses),
    };
  }

  /** The distro vendor's question: every clause, as this image was last judged on any target. */
  async certifyImage(sha256: string, caller: Caller): Promise<TriagedCertification> {
    const image = await this.images.get(sha256, caller);
    if (!image) throw notFound(`no image ${sha256}`);
    const covered = new Set(this.suites.list().flatMap((s) => s.clauses));
    const latest = await this.history.latestPerClause({ imageSha256: sha256 }, caller);
    const clauses = certify(CLAUSES, covered, latest, await this.explainer(latest));
    return {
      kind: 'image',
      id: sha256,
      name: image.name,
      version: image.version,
      generatedAt: new Date().toISOString(),
      counts: counts(clauses),
      clauses,
      payloads: payloadRules(latest),
      ...verdictOf(clauses),
    };
  }
}
