import { Inject, Injectable } from '@nestjs/common';
import type { AgentRegistered, AgentRegistration, AgentView, HeartbeatAnswer } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import type { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { ApiHttpError, notFound } from '../errors';
import { AgentsRepository, type AgentRow } from '../store/agents.repository';
import { RunsRepository } from '../store/runs.repository';
import { CONFIG } from '../tokens';

/** An agent that missed this many heartbeats shows as offline. */
const MISSED_BEATS = 3;

/** How long a heartbeat keeps naming a cancelled run: its agent has long stopped it by then. */
const CANCEL_NOTICE_MS = 10 * 60_000;

@Injectable()
export class AgentsService {
  constructor(
    private readonly agents: AgentsRepository,
    private readonly runs: RunsRepository,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  /** The agent belongs to the token that registers it: only that token (or an admin) acts for it. */
  async register(reg: AgentRegistration, caller: Caller): Promise<AgentRegistered> {
    const now = new Date().toISOString();
    const id = randomUUID();
    await this.agents.insert({
      id,
      ...reg,
      registeredAt: now,
      lastHeartbeat: now,
      tokenId: caller.identity.id,
    });
    return {
      id,
      redisUrl: this.config.redisUrl,
      queuePrefix: this.config.queuePrefix,
      heartbeatSeconds: this.config.heartbeatSeconds,
    };
  }

  /**
   * The agent `agentId`, when the caller may act for it: the token that registered it, or an admin.
   * 403 for an agent of another token, or one the controller does not know.
   */
  async actingAs(agentId: string, caller: Caller): Promise<AgentRow> {
    const agent = await this.agents.get(agentId);
    if (!agent) throw new ApiHttpError(403, `agent ${agentId} is not registered: register first`);
    if (caller.role !== 'admin' && agent.tokenId !== caller.identity.id)
      throw new ApiHttpError(403, `agent ${agentId} was registered with another token`);
    return agent;
  }

  /** 404 for an agent the controller forgot (it registers again); the answer names runs to stop. */
  async heartbeat(id: string, caller: Caller): Promise<HeartbeatAnswer> {
    if (!(await this.agents.get(id))) throw notFound(`no agent ${id}: register again`);
    await this.actingAs(id, caller);
    const now = Date.now();
    await this.agents.heartbeat(id, new Date(now).toISOString());
    const cancel = await this.runs.cancelledHeldBy(id, new Date(now - CANCEL_NOTICE_MS).toISOString());
    return { ok: true, cancel };
  }

  /** How long after its last heartbeat an agent still counts as online. */
  private get onlineMs(): number {
    return MISSED_BEATS * this.config.heartbeatSeconds * 1000;
  }

  /** The agents online now (what placement reads). */
  async online(now = Date.now()): Promise<AgentRow[]> {
    return this.agents.heardSince(new Date(now - this.onlineMs).toISOString());
  }

  async list(page: { limit: number; offset: number }, now = Date.now()): Promise<AgentView[]> {
    const limit = this.onlineMs;
    return (await this.agents.list(page)).map(({ tokenId: _t, ...a }) => ({
      ...a,
      online: now - Date.parse(a.lastHeartbeat) <= limit,
    }));
  }
}
