import { Inject, Injectable } from '@nestjs/common';
import type { AgentRegistered, AgentRegistration, AgentView } from '@vmfarm/protocol';
import { randomUUID } from 'node:crypto';
import type { ControllerConfig } from '../config';
import { notFound } from '../errors';
import { AgentsRepository } from '../store/agents.repository';
import { CONFIG } from '../tokens';

/** An agent that missed this many heartbeats shows as offline. */
const MISSED_BEATS = 3;

@Injectable()
export class AgentsService {
  constructor(
    private readonly agents: AgentsRepository,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  async register(reg: AgentRegistration): Promise<AgentRegistered> {
    const now = new Date().toISOString();
    const id = randomUUID();
    await this.agents.insert({ id, ...reg, registeredAt: now, lastHeartbeat: now });
    return {
      id,
      redisUrl: this.config.redisUrl,
      queuePrefix: this.config.queuePrefix,
      heartbeatSeconds: this.config.heartbeatSeconds,
    };
  }

  async heartbeat(id: string): Promise<void> {
    if (!(await this.agents.heartbeat(id, new Date().toISOString())))
      throw notFound(`no agent ${id}: register again`);
  }

  async list(now = Date.now()): Promise<AgentView[]> {
    const limit = MISSED_BEATS * this.config.heartbeatSeconds * 1000;
    return (await this.agents.list()).map((a) => ({
      ...a,
      online: now - Date.parse(a.lastHeartbeat) <= limit,
    }));
  }
}
