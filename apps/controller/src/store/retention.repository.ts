import { Inject, Injectable } from '@nestjs/common';
import type { Deletion, Verdict } from '@vmfarm/protocol';
import { sql } from 'kysely';
import type { RetentionMatrix } from '../triage/retention';
import type { Db } from './database';
import { DB } from './tokens';

export interface StoredArtifact {
  matrixId: string;
  runId: string;
  attempt: number;
  name: string;
  size: number;
  path: string;
}

/** A final FAIL of a run, with what known issues match on. */
export interface FailRow {
  runId: string;
  clause: string;
  verdict: Verdict;
  message: string;
  targetId: string;
  imageSha256: string;
  imageName: string;
  imageVersion: string | null;
  matrixOwner: string | null;
}

export interface ImageUse {
  sha256: string;
  owner: string | null;
  createdAt: string;
  size: number;
  matrices: string[];
  /** A run of it is not done. */
  running: boolean;
}

const chunks = <T>(list: readonly T[], n = 500): T[][] =>
  Array.from({ length: Math.ceil(list.length / n) }, (_, i) => list.slice(i * n, i * n + n));

/** What the janitor reads and the deletions it logs. */
@Injectable()
export class RetentionRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async matrices(): Promise<RetentionMatrix[]> {
    const rows = await this.db
      .selectFrom('matrices')
      .select(['matrices.id', 'matrices.created_at', 'matrices.owner', 'matrices.schedule_id'])
      .select(({ exists, selectFrom }) =>
        exists(
          selectFrom('runs')
            .select('runs.id')
            .whereRef('runs.matrix_id', '=', 'matrices.id')
            .where('runs.state', '!=', 'done'),
        ).as('running'),
      )
      .execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      owner: r.owner,
      scheduleId: r.schedule_id,
      done: !Number(r.running),
    }));
  }

  async artifactsOf(matrixIds: readonly string[]): Promise<StoredArtifact[]> {
    const out: StoredArtifact[] = [];
    for (const ids of chunks(matrixIds)) {
      const rows = await this.db
        .selectFrom('artifacts')
        .innerJoin('runs', 'runs.id', 'artifacts.run_id')
        .select([
          'runs.matrix_id',
          'artifacts.run_id',
          'artifacts.attempt',
          'artifacts.name',
          'artifacts.size',
          'artifacts.path',
        ])
        .where('runs.matrix_id', 'in', ids)
        .orderBy('artifacts.run_id')
        .orderBy('artifacts.attempt')
        .orderBy('artifacts.name')
        .execute();
      for (const r of rows)
        out.push({
          matrixId: r.matrix_id,
          runId: r.run_id,
          attempt: r.attempt,
          name: r.name,
          size: Number(r.size),
          path: r.path,
        });
    }
    return out;
  }

  /** The final FAIL verdicts of these runs. */
  async failsOf(runIds: readonly string[]): Promise<FailRow[]> {
    const out: FailRow[] = [];
    for (const ids of chunks(runIds)) {
      const rows = await this.db
        .selectFrom('verdicts')
        .innerJoin('runs', (j) =>
          j.onRef('runs.id', '=', 'verdicts.run_id').onRef('runs.final_attempt', '=', 'verdicts.attempt'),
        )
        .innerJoin('images', 'images.sha256', 'runs.image_sha256')
        .innerJoin('matrices', 'matrices.id', 'runs.matrix_id')
        .select([
          'runs.id as run_id',
          'verdicts.clause',
          'verdicts.verdict',
          'verdicts.message',
          'runs.target_id',
          'runs.image_sha256',
          'images.name as image_name',
          'images.version as image_version',
          'matrices.owner as matrix_owner',
        ])
        .where('verdicts.verdict', '=', 'FAIL')
        .where('runs.id', 'in', ids)
        .execute();
      for (const r of rows)
        out.push({
          runId: r.run_id,
          clause: r.clause,
          verdict: r.verdict as Verdict,
          message: r.message,
          targetId: r.target_id,
          imageSha256: r.image_sha256,
          imageName: r.image_name,
          imageVersion: r.image_version,
          matrixOwner: r.matrix_owner,
        });
    }
    return out;
  }

  /**
   * The runs certification reads: per target and clause, and per image and clause, the runs that
   * judged it last (runs a retry replaced left out, as certification does).
   */
  async certificationRuns(): Promise<Set<string>> {
    const ranked = (partition: 'runs.target_id' | 'runs.image_sha256') =>
      this.db
        .selectFrom('verdicts')
        .innerJoin('runs', (j) =>
          j.onRef('runs.id', '=', 'verdicts.run_id').onRef('runs.final_attempt', '=', 'verdicts.attempt'),
        )
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(selectFrom('runs as retry').select('retry.id').whereRef('retry.retry_of', '=', 'runs.id')),
          ),
        )
        .select((eb) => [
          'runs.id as run_id',
          eb.fn
            .agg<number>('rank')
            .over((ob) => ob.partitionBy([partition, 'verdicts.clause']).orderBy('runs.finished_at', 'desc'))
            .as('rnk'),
        ]);
    const out = new Set<string>();
    for (const q of [ranked('runs.target_id'), ranked('runs.image_sha256')]) {
      const rows = await this.db
        .selectFrom(q.as('v'))
        .select('v.run_id')
        .distinct()
        .where('v.rnk', '=', 1)
        .execute();
      for (const r of rows) out.add(r.run_id);
    }
    return out;
  }

  /** Every image with the matrices that ran it and whether a run of it is still going. */
  async imageUses(): Promise<ImageUse[]> {
    const images = await this.db
      .selectFrom('images')
      .select(['sha256', 'owner', 'created_at', 'size'])
      .orderBy('created_at')
      .execute();
    const uses = await this.db
      .selectFrom('runs')
      .select(['image_sha256', 'matrix_id'])
      .select(sql<number>`max(case when state <> 'done' then 1 else 0 end)`.as('running'))
      .groupBy(['image_sha256', 'matrix_id'])
      .execute();
    const byImage = new Map<string, { matrices: string[]; running: boolean }>();
    for (const u of uses) {
      const e = byImage.get(u.image_sha256) ?? { matrices: [], running: false };
      e.matrices.push(u.matrix_id);
      e.running ||= Number(u.running) === 1;
      byImage.set(u.image_sha256, e);
    }
    return images.map((i) => ({
      sha256: i.sha256,
      owner: i.owner,
      createdAt: i.created_at,
      size: Number(i.size),
      matrices: byImage.get(i.sha256)?.matrices ?? [],
      running: byImage.get(i.sha256)?.running ?? false,
    }));
  }

  /**
   * Forgets an artifact and logs its deletion, together; false when it was forgotten already
   * (another janitor got there first: logged once).
   */
  async artifactDeleted(a: StoredArtifact, deletion: Deletion, path: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .deleteFrom('artifacts')
        .where('run_id', '=', a.runId)
        .where('attempt', '=', a.attempt)
        .where('name', '=', a.name)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await trx
        .insertInto('deletions')
        .values({ ...RetentionRepository.deletionValues(deletion), path })
        .execute();
      return true;
    });
  }

  async imageDeleted(deletion: Deletion, path: string): Promise<void> {
    await this.db
      .insertInto('deletions')
      .values({ ...RetentionRepository.deletionValues(deletion), path })
      .execute();
  }

  private static deletionValues(d: Deletion) {
    return {
      id: d.id,
      at: d.at,
      kind: d.kind,
      run_id: d.runId,
      attempt: d.attempt,
      name: d.name,
      sha256: d.sha256,
      bytes: d.bytes,
      reason: d.reason,
    };
  }

  /** Newest first. */
  async deletions(limit: number): Promise<Deletion[]> {
    const rows = await this.db
      .selectFrom('deletions')
      .selectAll()
      .orderBy('at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      kind: r.kind as Deletion['kind'],
      runId: r.run_id,
      attempt: r.attempt,
      name: r.name,
      sha256: r.sha256,
      bytes: Number(r.bytes),
      reason: r.reason,
    }));
  }

  /** Stored artifacts per schedule (null: matrices submitted by hand): matrices and bytes. */
  async artifactUsage(): Promise<
    { scheduleId: string | null; matrices: number; count: number; bytes: number }[]
  > {
    const rows = await this.db
      .selectFrom('artifacts')
      .innerJoin('runs', 'runs.id', 'artifacts.run_id')
      .innerJoin('matrices', 'matrices.id', 'runs.matrix_id')
      .select((eb) => [
        'matrices.schedule_id',
        eb.fn.count<number>('artifacts.name').as('count'),
        eb.fn.sum<number>('artifacts.size').as('bytes'),
        sql<number>`count(distinct matrices.id)`.as('matrices'),
      ])
      .groupBy('matrices.schedule_id')
      .execute();
    return rows
      .map((r) => ({
        scheduleId: r.schedule_id,
        matrices: Number(r.matrices),
        count: Number(r.count),
        bytes: Number(r.bytes),
      }))
      .sort((a, b) => (a.scheduleId ?? '').localeCompare(b.scheduleId ?? ''));
  }
}
