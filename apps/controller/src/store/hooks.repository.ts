import { Inject, Injectable } from '@nestjs/common';
import type { DeliveryView, HookEvent, HookScope, HookView } from '@vmfarm/protocol';
import type { Kysely, Selectable } from 'kysely';
import type { Caller } from '../auth/caller';
import type { Db } from './database';
import type { Database, DeliveriesTable, HooksTable } from './schema';
import { DB } from './tokens';

/** 'farm', 'tenant:<tenant>' or 'schedule:<id>': one column to look hooks and policies up by. */
export function scopeKey(scope: HookScope): string {
  if (scope.kind === 'farm') return 'farm';
  return scope.kind === 'tenant' ? `tenant:${scope.tenant}` : `schedule:${scope.scheduleId}`;
}

export function scopeOf(key: string): HookScope {
  if (key === 'farm') return { kind: 'farm' };
  const [kind, ...rest] = key.split(':');
  const value = rest.join(':');
  return kind === 'tenant' ? { kind: 'tenant', tenant: value } : { kind: 'schedule', scheduleId: value };
}

export interface HookRow {
  id: string;
  scope: HookScope;
  kind: 'webhook' | 'email';
  url: string | null;
  to: string[] | null;
  secret: string | null;
  events: HookEvent[];
  enabled: boolean;
  tenant: string | null;
  createdAt: string;
  /** An admin's hook may reach internal addresses; a tenant's only public ones. */
  allowInternal: boolean;
}

function toHook(r: Selectable<HooksTable>): HookRow {
  return {
    id: r.id,
    scope: scopeOf(r.scope),
    kind: r.kind as HookRow['kind'],
    url: r.url,
    to: r.recipients === null ? null : (JSON.parse(r.recipients) as string[]),
    secret: r.secret,
    events: JSON.parse(r.events) as HookEvent[],
    enabled: Number(r.enabled) === 1,
    tenant: r.tenant,
    createdAt: r.created_at,
    allowInternal: Number(r.allow_internal) === 1,
  };
}

export function hookView(h: HookRow): HookView {
  const { secret: _secret, allowInternal: _internal, ...view } = h;
  return view;
}

/** One notification to send through one hook. */
export interface NewDelivery {
  id: string;
  hookId: string;
  eventId: string;
  event: HookEvent;
  body: string;
  at: string;
}

/** Queues deliveries (once per hook and event: a repeat changes nothing), in the caller's transaction. */
export async function insertDeliveries(db: Kysely<Database>, rows: readonly NewDelivery[]): Promise<void> {
  for (const d of rows)
    await db
      .insertInto('deliveries')
      .values({
        id: d.id,
        hook_id: d.hookId,
        event_id: d.eventId,
        event: d.event,
        body: d.body,
        state: 'pending',
        attempts: 0,
        next_at: d.at,
        claimed_until: null,
        created_at: d.at,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(['hook_id', 'event_id']).doNothing())
      .execute();
}

export interface DueDelivery {
  id: string;
  hookId: string;
  eventId: string;
  event: HookEvent;
  body: string;
  attempts: number;
}

export interface AttemptOutcome {
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
  /** What the delivery becomes: delivered, failed for good, or pending again at nextAt. */
  state: 'pending' | 'delivered' | 'failed';
  nextAt: string | null;
}

function toDelivery(r: Selectable<DeliveriesTable>): Omit<DeliveryView, 'log'> {
  return {
    id: r.id,
    hookId: r.hook_id,
    eventId: r.event_id,
    event: r.event as HookEvent,
    state: r.state as DeliveryView['state'],
    attempts: r.attempts,
    nextAt: r.state === 'pending' ? r.next_at : null,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

/** Webhooks and e-mail hooks, and the outbox of their deliveries (in SQL: a restart loses none). */
@Injectable()
export class HooksRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(h: HookRow): Promise<void> {
    await this.db
      .insertInto('hooks')
      .values({
        id: h.id,
        scope: scopeKey(h.scope),
        kind: h.kind,
        url: h.url,
        recipients: h.to === null ? null : JSON.stringify(h.to),
        secret: h.secret,
        events: JSON.stringify(h.events),
        enabled: h.enabled ? 1 : 0,
        tenant: h.tenant,
        created_at: h.createdAt,
        allow_internal: h.allowInternal ? 1 : 0,
      })
      .execute();
  }

  /** A vendor sees its tenant's hooks only: an admin's hook (tenant null) names its URL to nobody else. */
  private visible(caller: Caller) {
    const q = this.db.selectFrom('hooks').selectAll();
    return caller.scope === undefined ? q : q.where('tenant', '=', caller.scope);
  }

  async get(id: string, caller: Caller): Promise<HookRow | undefined> {
    const row = await this.visible(caller).where('id', '=', id).executeTakeFirst();
    return row && toHook(row);
  }

  /** For the sender, whoever's hook it is. */
  async byId(id: string): Promise<HookRow | undefined> {
    const row = await this.db.selectFrom('hooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toHook(row);
  }

  async list(caller: Caller): Promise<HookRow[]> {
    return (await this.visible(caller).orderBy('created_at').orderBy('id').execute()).map(toHook);
  }

  /** The hook and its delivery log. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const ids = trx.selectFrom('deliveries').select('id').where('hook_id', '=', id);
      await trx.deleteFrom('delivery_attempts').where('delivery_id', 'in', ids).execute();
      await trx.deleteFrom('deliveries').where('hook_id', '=', id).execute();
      const r = await trx.deleteFrom('hooks').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Enabled hooks of these scopes (the farm's, a tenant's, a schedule's). */
  async forScopes(scopes: readonly HookScope[]): Promise<HookRow[]> {
    if (scopes.length === 0) return [];
    const rows = await this.db
      .selectFrom('hooks')
      .selectAll()
      .where('enabled', '=', 1)
      .where('scope', 'in', scopes.map(scopeKey))
      .orderBy('created_at')
      .execute();
    return rows.map(toHook);
  }

  async enqueue(rows: readonly NewDelivery[]): Promise<void> {
    await this.db.transaction().execute((trx) => insertDeliveries(trx, rows));
  }

  /**
   * Claims up to `limit` deliveries due at `now` until `until`: another sender (another controller,
   * or this one's next tick) leaves a claimed delivery alone until then.
   */
  async claimDue(now: string, until: string, limit: number): Promise<DueDelivery[]> {
    const due = await this.db
      .selectFrom('deliveries')
      .select(['id', 'hook_id', 'event_id', 'event', 'body', 'attempts'])
      .where('state', '=', 'pending')
      .where('next_at', '<=', now)
      .where(({ or, eb }) => or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
      .orderBy('next_at')
      .limit(limit)
      .execute();
    const claimed: DueDelivery[] = [];
    for (const d of due) {
      const r = await this.db
        .updateTable('deliveries')
        .set({ claimed_until: until })
        .where('id', '=', d.id)
        .where('state', '=', 'pending')
        .where(({ or, eb }) => or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0)
        claimed.push({
          id: d.id,
          hookId: d.hook_id,
          eventId: d.event_id,
          event: d.event as HookEvent,
          body: d.body,
          attempts: d.attempts,
        });
    }
    return claimed;
  }

  /** Records one attempt and what the delivery becomes. */
  async recordAttempt(deliveryId: string, attempt: number, o: AttemptOutcome): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('delivery_attempts')
        .values({
          delivery_id: deliveryId,
          attempt,
          at: o.at,
          status: o.status,
          error: o.error,
          duration_ms: o.durationMs,
        })
        .onConflict((oc) => oc.columns(['delivery_id', 'attempt']).doNothing())
        .execute();
      await trx
        .updateTable('deliveries')
        .set({
          attempts: attempt,
          state: o.state,
          next_at: o.nextAt,
          claimed_until: null,
          delivered_at: o.state === 'delivered' ? o.at : null,
        })
        .where('id', '=', deliveryId)
        .execute();
    });
  }

  /** A hook's deliveries, newest first, each with its attempts. */
  async deliveries(hookId: string, limit: number): Promise<DeliveryView[]> {
    const rows = await this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('hook_id', '=', hookId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    if (rows.length === 0) return [];
    const attempts = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where(
        'delivery_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('attempt')
      .execute();
    return rows.map((r) => ({
      ...toDelivery(r),
      log: attempts
        .filter((a) => a.delivery_id === r.id)
        .map((a) => ({
          attempt: a.attempt,
          at: a.at,
          status: a.status,
          error: a.error,
          durationMs: Number(a.duration_ms),
        })),
    }));
  }
}
