import { Inject, Injectable } from '@nestjs/common';
import type { AgentCapabilities } from '@vmfarm/protocol';
import type { Selectable } from 'kysely';
import type { Db } from './database';
import type { AgentsTable } from './schema';
import { DB } from './tokens';

export interface AgentRow {
  id: string;
  name: string;
  host: string;
  version: string;
  capabilities: AgentCapabilities;
  registeredAt: string;
  lastHeartbeat: string;
  /** The token that registered it (null: registered before agents were tied to tokens). */
  tokenId: string | null;
}

const toAgent = (r: Selectable<AgentsTable>): AgentRow => ({
  id: r.id,
  name: r.name,
  host: r.host,
  version: r.version,
  capabilities: JSON.parse(r.capabilities) as AgentCapabilities,
  registeredAt: r.registered_at,
  lastHeartbeat: r.last_heartbeat,
  tokenId: r.token_id,
});

@Injectable()
export class AgentsRepository {
  constructor(@Inject(DB) private readonly db: Db) {}

  async insert(agent: AgentRow): Promise<void> {
    await this.db
      .insertInto('agents')
      .values({
        id: agent.id,
        name: agent.name,
        host: agent.host,
        version: agent.version,
        capabilities: JSON.stringify(agent.capabilities),
        registered_at: agent.registeredAt,
        last_heartbeat: agent.lastHeartbeat,
        token_id: agent.tokenId,
      })
      .execute();
  }

  /** false when no such agent. */
  async heartbeat(id: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('agents')
      .set({ last_heartbeat: at })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async get(id: string): Promise<AgentRow | undefined> {
    const row = await this.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAgent(row);
  }

  /** Agents whose last heartbeat is at or after `at` (ISO). */
  async heardSince(at: string): Promise<AgentRow[]> {
    const rows = await this.db
      .selectFrom('agents')
      .selectAll()
      .where('last_heartbeat', '>=', at)
      .orderBy('registered_at')
      .execute();
    return rows.map(toAgent);
  }

  async list(page: { limit: number; offset: number }): Promise<AgentRow[]> {
    const rows = await this.db
      .selectFrom('agents')
      .selectAll()
      .orderBy('registered_at', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map(toAgent);
  }
}
