import { Inject, Injectable } from '@nestjs/common';
import type { RunJobData, RunState, Verdict, VerdictRecord } from '@vmfarm/protocol';
import { sql, type Insertable, type Selectable, type Transaction } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { AttemptsTable, Database, RunsTable } from './schema';
import { DB } from './tokens';

export interface NewRun {
  id: string;
  matrixId: string;
  seq: number;
  job: RunJobData;
  createdAt: string;
  /** A retry before regression: the run it re-runs. */
  retryOf?: string;
}

export interface RunRow {
  id: string;
  matrixId: string;
  seq: number;
  image: string;
  targetId: string;
  targetKind: string;
  suite: string;
  state: RunState;
  verdict: Verdict | null;
  attempts: number;
  finalAttempt: number | null;
  job: RunJobData;
  createdAt: string;
  finishedAt: string | null;
  retryOf: string | null;
}

export interface AttemptRow {
  runId: string;
  attempt: number;
  agentId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** PASS | FAIL | ERROR | SKIP | lost */
  outcome: string | null;
  error: string | null;
  durationMs: number | null;
}

export interface ArtifactRow {
  attempt: number;
  name: string;
  mediaType: string;
  size: number;
  path: string;
}

/** Everything one reported attempt writes, decided by RunsService. */
export interface AttemptRecord {
  runId: string;
  attempt: number;
  agentId: string | null;
  outcome: string;
  error: string | null;
  durationMs: number | null;
  verdicts: readonly VerdictRecord[];
  artifacts: readonly ArtifactRow[];
  /** The run's next state; `done` also sets its verdict and final attempt. */
  runState: Exclude<RunState, 'queued'>;
  runVerdict: Verdict | null;
  at: string;
}

export function runValues(run: NewRun): Insertable<RunsTable> {
  return {
    id: run.id,
    matrix_id: run.matrixId,
    seq: run.seq,
    image_sha256: run.job.image.sha256,
    target_id: run.job.target.id,
    target_kind: run.job.target.kind,
    suite: run.job.suite,
    state: 'queued',
    verdict: null,
    final_attempt: null,
    job: JSON.stringify(run.job),
    created_at: run.createdAt,
    finished_at: null,
    retry_of: run.retryOf ?? null,
  };
}

function toRun(r: Selectable<RunsTable>): RunRow {
  return {
    id: r.id,
    matrixId: r.matrix_id,
    seq: r.seq,
    image: r.image_sha256,
    targetId: r.target_id,
    targetKind: r.target_kind,
    suite: r.suite,
    state: r.state as RunState,
    verdict: r.verdict as Verdict | null,
    attempts: r.attempts,
    finalAttempt: r.final_attempt,
    job: JSON.parse(r.job) as RunJobData,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    retryOf: r.retry_of,
  };
}

function toAttempt(r: Selectable<AttemptsTable>): AttemptRow {
  return {
    runId: r.run_id,
    attempt: r.attempt,
    agentId: r.agent_id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcome: r.outcome,
    error: r.error,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  };
}

/** Rolls a transaction back without an error escaping: the guard found the work already done. */
export class AlreadyRecorded extends Error {}

@Injectable()
export class RunsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async get(id: string): Promise<RunRow | undefined> {
    const row = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRun(row);
  }

  /** A run the caller may see: one of a matrix it may see. */
  async visible(id: string, caller: Caller): Promise<RunRow | undefined> {
    const row = await visibleRows(
      this.db.selectFrom('runs').innerJoin('matrices', 'matrices.id', 'runs.matrix_id').selectAll('runs'),
      caller,
      'matrices.owner',
    )
      .where('runs.id', '=', id)
      .executeTakeFirst();
    return row && toRun(row);
  }

  async listByMatrix(matrixId: string): Promise<RunRow[]> {
    const rows = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('matrix_id', '=', matrixId)
      .orderBy('seq')
      .execute();
    return rows.map(toRun);
  }

  /** Runs not done yet: what start-up reconciliation checks against BullMQ. */
  async listUnfinished(): Promise<RunRow[]> {
    const rows = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('state', '!=', 'done')
      .orderBy('created_at')
      .execute();
    return rows.map(toRun);
  }

  /** Runs waiting for an agent (queued, or waiting for a retry) of targets other than static. */
  async listWaitingForHosts(): Promise<RunRow[]> {
    const rows = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('state', 'in', ['queued', 'retrying'])
      .where('target_kind', '!=', 'static')
      .orderBy('created_at')
      .execute();
    return rows.map(toRun);
  }

  async attempts(runId: string): Promise<AttemptRow[]> {
    const rows = await this.db
      .selectFrom('attempts')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('attempt')
      .execute();
    return rows.map(toAttempt);
  }

  /** The attempts of each of these runs, in a few queries. */
  async attemptsOf(runIds: readonly string[]): Promise<Map<string, AttemptRow[]>> {
    const out = new Map<string, AttemptRow[]>();
    for (let i = 0; i < runIds.length; i += 500) {
      const rows = await this.db
        .selectFrom('attempts')
        .selectAll()
        .where('run_id', 'in', runIds.slice(i, i + 500))
        .orderBy('run_id')
        .orderBy('attempt')
        .execute();
      for (const r of rows) out.set(r.run_id, [...(out.get(r.run_id) ?? []), toAttempt(r)]);
    }
    return out;
  }

  async attempt(runId: string, attempt: number): Promise<AttemptRow | undefined> {
    const row = await this.db
      .selectFrom('attempts')
      .selectAll()
      .where('run_id', '=', runId)
      .where('attempt', '=', attempt)
      .executeTakeFirst();
    return row && toAttempt(row);
  }

  /** The verdicts of each run's final attempt (runs not done have none). */
  async finalVerdicts(runs: readonly RunRow[]): Promise<Map<string, VerdictRecord[]>> {
    const out = new Map<string, VerdictRecord[]>(runs.map((r) => [r.id, []]));
    const done = runs.filter((r) => r.finalAttempt !== null);
    for (let i = 0; i < done.length; i += 500) {
      const chunk = done.slice(i, i + 500);
      const rows = await this.db
        .selectFrom('verdicts')
        .innerJoin('runs', (j) =>
          j.onRef('runs.id', '=', 'verdicts.run_id').onRef('runs.final_attempt', '=', 'verdicts.attempt'),
        )
        .select([
          'verdicts.run_id',
          'verdicts.suite',
          'verdicts.clause',
          'verdicts.level',
          'verdicts.verdict',
          'verdicts.message',
          'verdicts.evidence',
          'verdicts.qualifier',
        ])
        .where(
          'verdicts.run_id',
          'in',
          chunk.map((r) => r.id),
        )
        .orderBy('verdicts.run_id')
        .orderBy('verdicts.seq')
        .execute();
      for (const v of rows)
        out.get(v.run_id)?.push({
          suite: v.suite,
          clause: v.clause,
          level: v.level as VerdictRecord['level'],
          verdict: v.verdict as VerdictRecord['verdict'],
          message: v.message,
          evidence: JSON.parse(v.evidence) as Record<string, unknown>,
          ...(v.qualifier ? { qualifier: v.qualifier as NonNullable<VerdictRecord['qualifier']> } : {}),
        });
    }
    return out;
  }

  /** Clause IDs each run's final attempt judged FAIL (only runs that have some). */
  async failingClauses(runs: readonly RunRow[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const done = runs.filter((r) => r.finalAttempt !== null).map((r) => r.id);
    for (let i = 0; i < done.length; i += 500) {
      const rows = await this.db
        .selectFrom('verdicts')
        .innerJoin('runs', (j) =>
          j.onRef('runs.id', '=', 'verdicts.run_id').onRef('runs.final_attempt', '=', 'verdicts.attempt'),
        )
        .select(['verdicts.run_id', 'verdicts.clause'])
        .where('verdicts.run_id', 'in', done.slice(i, i + 500))
        .where('verdicts.verdict', '=', 'FAIL')
        .orderBy('verdicts.run_id')
        .orderBy('verdicts.seq')
        .execute();
      for (const v of rows) {
        const list = out.get(v.run_id) ?? [];
        if (!list.includes(v.clause)) list.push(v.clause);
        out.set(v.run_id, list);
      }
    }
    return out;
  }

  async artifacts(runId: string): Promise<ArtifactRow[]> {
    const rows = await this.db
      .selectFrom('artifacts')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('attempt')
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      attempt: r.attempt,
      name: r.name,
      mediaType: r.media_type,
      size: Number(r.size),
      path: r.path,
    }));
  }

  /** Runs whose attempt held by `agentId` was cancelled since `since`: the agent stops them. */
  async cancelledHeldBy(agentId: string, since: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('attempts')
      .select('run_id')
      .where('agent_id', '=', agentId)
      .where('outcome', '=', 'cancelled')
      .where('finished_at', '>=', since)
      .execute();
    return rows.map((r) => r.run_id);
  }

  /** How many runs of matrices owned by `owner` are not done. */
  async countUnfinishedOf(owner: string): Promise<number> {
    const row = await this.db
      .selectFrom('runs')
      .innerJoin('matrices', 'matrices.id', 'runs.matrix_id')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('matrices.owner', '=', owner)
      .where('runs.state', '!=', 'done')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Attempt n begins: earlier attempts still open are marked lost (their agent died or handed the job
   * back), the attempt row is created once, and a run not done becomes running.
   */
  async startAttempt(runId: string, attempt: number, agentId: string, at: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('attempts')
        .set({
          finished_at: at,
          outcome: 'lost',
          error: `no result: attempt ${attempt} started before this one reported`,
        })
        .where('run_id', '=', runId)
        .where('attempt', '<', attempt)
        .where('finished_at', 'is', null)
        .execute();
      await trx
        .insertInto('attempts')
        .values({
          run_id: runId,
          attempt,
          agent_id: agentId,
          started_at: at,
          finished_at: null,
          outcome: null,
          error: null,
          duration_ms: null,
        })
        .onConflict((oc) => oc.columns(['run_id', 'attempt']).doNothing())
        .execute();
      await trx
        .updateTable('runs')
        .set({
          state: 'running',
          attempts: sql<number>`case when attempts < ${attempt} then ${attempt} else attempts end`,
        })
        .where('id', '=', runId)
        .where('state', '!=', 'done')
        .execute();
    });
  }

  /**
   * Many attempts' results, a hundred per transaction; a transaction that meets one already
   * recorded (a result came in meanwhile) is redone one record at a time. The run ids recorded.
   */
  async recordAttempts(records: readonly AttemptRecord[]): Promise<Set<string>> {
    const recorded = new Set<string>();
    for (let i = 0; i < records.length; i += 100) {
      const chunk = records.slice(i, i + 100);
      try {
        await this.db.transaction().execute(async (trx) => {
          for (const rec of chunk) await writeAttempt(trx, rec);
        });
        for (const rec of chunk) recorded.add(rec.runId);
      } catch (err) {
        if (!(err instanceof AlreadyRecorded)) throw err;
        for (const rec of chunk) if (await this.recordAttempt(rec)) recorded.add(rec.runId);
      }
    }
    return recorded;
  }

  /** Of these runs, those not done (what reconciliation may still re-queue). */
  async unfinishedOf(runIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < runIds.length; i += 500) {
      const rows = await this.db
        .selectFrom('runs')
        .select('id')
        .where('id', 'in', runIds.slice(i, i + 500))
        .where('state', '!=', 'done')
        .execute();
      for (const r of rows) out.add(r.id);
    }
    return out;
  }

  /**
   * Writes one attempt's result exactly once. false (and nothing written) when that attempt already
   * has a result or the run is already done.
   */
  async recordAttempt(rec: AttemptRecord): Promise<boolean> {
    try {
      await this.db.transaction().execute((trx) => writeAttempt(trx, rec));
      return true;
    } catch (err) {
      if (err instanceof AlreadyRecorded) return false;
      throw err;
    }
  }
}

/**
 * One attempt's result, inside the caller's transaction; throws AlreadyRecorded (roll back) when
 * the attempt already has a result or the run is done.
 */
export async function writeAttempt(trx: Transaction<Database>, rec: AttemptRecord): Promise<void> {
  await trx
    .insertInto('attempts')
    .values({
      run_id: rec.runId,
      attempt: rec.attempt,
      agent_id: rec.agentId,
      started_at: null,
      finished_at: null,
      outcome: null,
      error: null,
      duration_ms: null,
    })
    .onConflict((oc) => oc.columns(['run_id', 'attempt']).doNothing())
    .execute();
  const finished = await trx
    .updateTable('attempts')
    .set({
      finished_at: rec.at,
      outcome: rec.outcome,
      error: rec.error,
      duration_ms: rec.durationMs,
      agent_id: rec.agentId,
    })
    .where('run_id', '=', rec.runId)
    .where('attempt', '=', rec.attempt)
    .where('finished_at', 'is', null)
    .executeTakeFirst();
  if (Number(finished.numUpdatedRows) === 0) throw new AlreadyRecorded();
  const done = rec.runState === 'done';
  const imageFailed = rec.verdicts.some(
    (v) => (v.evidence.imageChecks as { passed?: unknown } | undefined)?.passed === false,
  );
  const run = await trx
    .updateTable('runs')
    .set({
      state: rec.runState,
      verdict: done ? rec.runVerdict : null,
      final_attempt: done ? rec.attempt : null,
      finished_at: done ? rec.at : null,
      attempts: sql<number>`case when attempts < ${rec.attempt} then ${rec.attempt} else attempts end`,
      image_failed_checks: done && imageFailed ? 1 : 0,
    })
    .where('id', '=', rec.runId)
    .where('state', '!=', 'done')
    .executeTakeFirst();
  if (Number(run.numUpdatedRows) === 0) throw new AlreadyRecorded();
  for (let i = 0; i < rec.verdicts.length; i += 200) {
    await trx
      .insertInto('verdicts')
      .values(
        rec.verdicts.slice(i, i + 200).map((v, j) => ({
          run_id: rec.runId,
          attempt: rec.attempt,
          seq: i + j,
          suite: v.suite,
          clause: v.clause,
          level: v.level,
          verdict: v.verdict,
          message: v.message,
          evidence: JSON.stringify(v.evidence),
          qualifier: v.qualifier ?? null,
        })),
      )
      .execute();
  }
  if (rec.artifacts.length > 0)
    await trx
      .insertInto('artifacts')
      .values(
        rec.artifacts.map((a) => ({
          run_id: rec.runId,
          attempt: rec.attempt,
          name: a.name,
          media_type: a.mediaType,
          size: a.size,
          path: a.path,
        })),
      )
      .execute();
}
