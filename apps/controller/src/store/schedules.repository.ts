import { Inject, Injectable } from '@nestjs/common';
import type { ImageSelector, ScheduleFire } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import { visibleRows } from './ownership';
import type { SchedulesTable } from './schema';
import { DB } from './tokens';

/** What a schedule submits each time it fires. */
export interface ScheduleSpec {
  images: ImageSelector;
  targets: string[];
  suites: string[];
  ready: string | null;
}

export interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  spec: ScheduleSpec;
  enabled: boolean;
  owner: string | null;
  nextRunAt: string | null;
  createdAt: string;
  updatedAt: string;
}

function toSchedule(r: Selectable<SchedulesTable>): ScheduleRow {
  return {
    id: r.id,
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    spec: JSON.parse(r.spec) as ScheduleSpec,
    enabled: Number(r.enabled) === 1,
    owner: r.owner,
    nextRunAt: r.next_run_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toColumns(s: ScheduleRow) {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    spec: JSON.stringify(s.spec),
    enabled: s.enabled ? 1 : 0,
    owner: s.owner,
    next_run_at: s.nextRunAt,
    updated_at: s.updatedAt,
  };
}

@Injectable()
export class SchedulesRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(s: ScheduleRow): Promise<void> {
    await this.db
      .insertInto('schedules')
      .values({ id: s.id, created_at: s.createdAt, ...toColumns(s) })
      .execute();
  }

  /** Writes every field but id and createdAt; false when there is no such schedule. */
  async update(s: ScheduleRow): Promise<boolean> {
    const result = await this.db
      .updateTable('schedules')
      .set(toColumns(s))
      .where('id', '=', s.id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async setNextRunAt(id: string, at: string | null): Promise<void> {
    await this.db.updateTable('schedules').set({ next_run_at: at }).where('id', '=', id).execute();
  }

  /** Schedules the caller may see: a vendor its tenant's and public ones. */
  private visible(caller: Caller) {
    return visibleRows(this.db.selectFrom('schedules').selectAll(), caller, 'schedules.owner');
  }

  async get(id: string, caller: Caller): Promise<ScheduleRow | undefined> {
    const row = await this.visible(caller).where('id', '=', id).executeTakeFirst();
    return row && toSchedule(row);
  }

  /** Oldest first; a page of them when `page` is given (start-up reads them all). */
  async list(caller: Caller, page?: { limit: number; offset: number }): Promise<ScheduleRow[]> {
    let query = this.visible(caller).orderBy('created_at').orderBy('id');
    if (page) query = query.limit(page.limit).offset(page.offset);
    return (await query.execute()).map(toSchedule);
  }

  /** The schedule and its fires; its matrices stay (they are history). false when there was none. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('schedule_fires').where('schedule_id', '=', id).execute();
      const result = await trx.deleteFrom('schedules').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  /** Claims one due time of a schedule; false when it was claimed already (by a cron job, catch-up or peer). */
  async claimFire(
    scheduleId: string,
    fire: Pick<ScheduleFire, 'dueAt' | 'firedAt' | 'trigger'>,
  ): Promise<boolean> {
    const result = await this.db
      .insertInto('schedule_fires')
      .values({
        schedule_id: scheduleId,
        due_at: fire.dueAt,
        fired_at: fire.firedAt,
        trigger: fire.trigger,
        outcome: 'pending',
        matrix_id: null,
        reason: null,
      })
      .onConflict((oc) => oc.columns(['schedule_id', 'due_at']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async settleFire(
    scheduleId: string,
    dueAt: string,
    outcome: Exclude<ScheduleFire['outcome'], 'pending'>,
    matrixId: string | null,
    reason: string | null,
  ): Promise<void> {
    await this.db
      .updateTable('schedule_fires')
      .set({ outcome, matrix_id: matrixId, reason })
      .where('schedule_id', '=', scheduleId)
      .where('due_at', '=', dueAt)
      .execute();
  }

  /** Newest first. */
  async fires(scheduleId: string, page: { limit: number; offset: number }): Promise<ScheduleFire[]> {
    const rows = await this.db
      .selectFrom('schedule_fires')
      .selectAll()
      .where('schedule_id', '=', scheduleId)
      .orderBy('due_at', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map((r) => ({
      dueAt: r.due_at,
      firedAt: r.fired_at,
      trigger: r.trigger as ScheduleFire['trigger'],
      outcome: r.outcome as ScheduleFire['outcome'],
      matrixId: r.matrix_id,
      reason: r.reason,
    }));
  }
}
