import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { HookEvent, HookScope, Notification } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import type { ControllerConfig } from '../config';
import { HooksRepository, type DueDelivery, type NewDelivery } from '../store/hooks.repository';
import { KnownIssuesRepository } from '../store/known-issues.repository';
import { CONFIG } from '../tokens';
import { backoffMs, sign, SIGNATURE_HEADER } from './signature';
import { EgressRefusedError } from './egress';
import { postWebhook, SmtpMailer, WebhookTimeoutError } from './transports';

/** How often due deliveries and expired issues are looked for. */
const TICK_MS = 1000;
/** A sender holds a claimed delivery this long (beyond any receiver's timeout). */
const LEASE_MS = 60_000;
/** The longest wait between two attempts. */
const MAX_BACKOFF_MS = 3_600_000;

export interface FarmEvent {
  event: HookEvent;
  tenant: string | null;
  scheduleId: string | null;
  data: Record<string, unknown>;
}

/** Hooks that hear about an event: the farm's, its tenant's and its schedule's. */
function scopesOf(e: Pick<FarmEvent, 'tenant' | 'scheduleId'>): HookScope[] {
  return [
    { kind: 'farm' },
    ...(e.tenant === null ? [] : [{ kind: 'tenant' as const, tenant: e.tenant }]),
    ...(e.scheduleId === null ? [] : [{ kind: 'schedule' as const, scheduleId: e.scheduleId }]),
  ];
}

function subjectOf(n: Notification): string {
  const d = n.data as { matrix?: { id?: string }; matrixId?: string; issue?: { title?: string } };
  const matrix = d.matrix?.id ?? d.matrixId;
  if (n.event === 'issue.expired') return `[vmfarm] known issue expired: ${d.issue?.title ?? ''}`;
  return `[vmfarm] ${n.event}${matrix ? ` in matrix ${matrix}` : ''}`;
}

/**
 * Notifications: an event becomes one delivery per hook that wants it, in SQL (an outbox), and a
 * sender on every controller posts due deliveries, retrying with exponential back-off until the
 * receiver answers 2xx or the attempts run out. Claims keep two controllers from sending one
 * delivery at once; a controller that stops mid-send leaves it to be claimed again after the lease.
 */
@Injectable()
export class NotificationsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Notifications');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private readonly mailer?: SmtpMailer;

  constructor(
    private readonly hooks: HooksRepository,
    private readonly issues: KnownIssuesRepository,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {
    if (config.smtpUrl) this.mailer = new SmtpMailer(config.smtpUrl, config.smtpFrom);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    this.kick();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    this.mailer?.close();
  }

  /** The deliveries an event makes (to write with whatever caused it, in one transaction). */
  async deliveriesFor(e: FarmEvent, at = new Date().toISOString()): Promise<NewDelivery[]> {
    const hooks = (await this.hooks.forScopes(scopesOf(e))).filter((h) => h.events.includes(e.event));
    if (hooks.length === 0) return [];
    const notification: Notification = {
      id: randomUUID(),
      event: e.event,
      at,
      tenant: e.tenant,
      scheduleId: e.scheduleId,
      data: e.data,
    };
    const body = JSON.stringify(notification);
    return hooks.map((h) => ({
      id: randomUUID(),
      hookId: h.id,
      eventId: notification.id,
      event: e.event,
      body,
      at,
    }));
  }

  async emit(e: FarmEvent): Promise<void> {
    await this.hooks.enqueue(await this.deliveriesFor(e));
    this.kick();
  }

  /** Looks for work now (one pass at a time; a kick during a pass makes another). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: Error) => this.log.warn(`notifications: ${err.message}`))
      .finally(() => {
        this.running = undefined;
        if (this.again && this.timer) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    const now = new Date();
    for (const issue of await this.issues.claimExpired(now.toISOString()))
      await this.emit({
        event: 'issue.expired',
        tenant: issue.tenant,
        scheduleId: null,
        data: {
          issue: {
            id: issue.id,
            title: issue.title,
            owner: issue.owner,
            link: issue.link,
            reason: issue.reason,
            expiresAt: issue.expiresAt,
            match: issue.match,
          },
        },
      });
    const due = await this.hooks.claimDue(
      now.toISOString(),
      new Date(now.getTime() + LEASE_MS).toISOString(),
      20,
    );
    await Promise.all(due.map((d) => this.deliver(d)));
  }

  /** One attempt at one delivery, recorded with what comes next. */
  private async deliver(d: DueDelivery): Promise<void> {
    const attempt = d.attempts + 1;
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    const hook = await this.hooks.byId(d.hookId);
    try {
      if (!hook) throw new Error('the hook was deleted');
      if (hook.kind === 'webhook') {
        status = await postWebhook(
          hook.url!,
          d.body,
          {
            [SIGNATURE_HEADER]: sign(hook.secret!, d.body),
            'x-vmfarm-event': d.event,
            'x-vmfarm-delivery': d.id,
          },
          { allowInternal: hook.allowInternal },
        );
        if (status < 200 || status > 299)
          error = status >= 300 && status < 400 ? `redirected (${status}): not followed` : `HTTP ${status}`;
      } else {
        if (!this.mailer) throw new Error('no SMTP server configured (VMFARM_SMTP_URL)');
        const n = JSON.parse(d.body) as Notification;
        await this.mailer.send({
          to: hook.to ?? [],
          subject: subjectOf(n),
          text: `${subjectOf(n)}\n\n${JSON.stringify(n, null, 2)}\n`,
        });
        status = 250;
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      error =
        e instanceof EgressRefusedError || e instanceof WebhookTimeoutError
          ? e.message
          : (e.code ?? e.message);
    }
    const at = new Date().toISOString();
    const durationMs = Date.now() - started;
    const delivered = error === null;
    const last = !delivered && (attempt >= this.config.deliveryAttempts || !hook);
    await this.hooks.recordAttempt(d.id, attempt, {
      at,
      status,
      error,
      durationMs,
      state: delivered ? 'delivered' : last ? 'failed' : 'pending',
      nextAt:
        delivered || last
          ? null
          : new Date(
              Date.now() + backoffMs(attempt, this.config.deliveryBackoffMs, MAX_BACKOFF_MS),
            ).toISOString(),
    });
    if (!delivered)
      this.log.warn(
        `delivery ${d.id} (${d.event}) attempt ${attempt}: ${error}${last ? '; giving up' : '; will retry'}`,
      );
  }
}
