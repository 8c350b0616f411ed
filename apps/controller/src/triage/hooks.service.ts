import { Inject, Injectable } from '@nestjs/common';
import type { DeliveryView, HookCreate, HookCreated, HookView } from '@vmfarm/protocol';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { ApiHttpError, badRequest, notFound } from '../errors';
import { hookView, HooksRepository, type HookRow } from '../store/hooks.repository';
import { CONFIG } from '../tokens';
import { internalHostProblem } from './egress';
import { ScopeAccess } from './scopes';

/** Webhooks and e-mail hooks, per schedule, per tenant or for the farm, and their delivery logs. */
@Injectable()
export class HooksService {
  constructor(
    private readonly hooks: HooksRepository,
    private readonly access: ScopeAccess,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  /** A webhook's secret is shown this once (made here when not given). */
  async create(input: HookCreate, caller: Caller): Promise<HookCreated> {
    const { tenant } = await this.access.writable(input.scope, caller);
    if (input.email && !this.config.smtpUrl)
      throw badRequest('e-mail hooks need an SMTP server: start the controller with VMFARM_SMTP_URL', [
        { path: 'email', message: 'no SMTP server configured' },
      ]);
    const internal = input.webhook && internalHostProblem(new URL(input.webhook.url));
    if (internal && caller.role !== 'admin')
      throw badRequest(`a tenant's webhook may reach public addresses only: ${internal}`, [
        { path: 'webhook.url', message: internal },
      ]);
    const secret = input.webhook ? (input.webhook.secret ?? randomBytes(24).toString('base64url')) : null;
    const hook: HookRow = {
      id: randomUUID(),
      scope: input.scope,
      kind: input.webhook ? 'webhook' : 'email',
      url: input.webhook?.url ?? null,
      to: input.email ? [...input.email.to] : null,
      secret,
      events: [...new Set(input.events)],
      enabled: true,
      tenant,
      createdAt: new Date().toISOString(),
      allowInternal: caller.role === 'admin',
    };
    await this.hooks.insert(hook);
    return { ...hookView(hook), secret };
  }

  async list(caller: Caller): Promise<HookView[]> {
    return (await this.hooks.list(caller)).map(hookView);
  }

  private async row(id: string, caller: Caller): Promise<HookRow> {
    const hook = await this.hooks.get(id, caller);
    if (!hook) throw notFound(`no hook ${id}`);
    return hook;
  }

  async delete(id: string, caller: Caller): Promise<void> {
    const hook = await this.row(id, caller);
    if (!caller.canWrite(hook.tenant))
      throw new ApiHttpError(403, `hook ${id} is an admin's: only an admin may delete it`);
    await this.hooks.delete(id);
  }

  /** The delivery log, newest first. */
  async deliveries(id: string, limit: number, caller: Caller): Promise<DeliveryView[]> {
    await this.row(id, caller);
    return this.hooks.deliveries(id, limit);
  }
}
