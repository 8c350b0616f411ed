import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootstrap, type RunningController } from '../../src/app';
import { resolveConfig, type ControllerConfig } from '../../src/config';
import { ADMIN_TOKEN, authed } from './auth';
import { requireEnv, uniqueName, type StoreCase } from './env';
import { startAgent, type AgentProcess } from './processes';

/**
 * One controller (in process, listening on a free port) over its own data dir, database and queue
 * prefix, plus the agent processes a test starts; `close()` stops all of them.
 */
export class Farm {
  controller?: RunningController;
  readonly agents: AgentProcess[] = [];
  readonly queuePrefix = uniqueName('farm');
  /** What the farm's agents authenticate with; made at the first start. */
  agentToken?: string;
  private databaseUrl?: string;
  private drop?: () => Promise<void>;

  constructor(
    readonly dir: string,
    private readonly store: StoreCase,
    /** Settings of the controller beyond the farm's own (a short placement grace, say). */
    private readonly settings: Partial<
      Pick<ControllerConfig, 'placementGraceSeconds' | 'heartbeatSeconds'>
    > = {},
  ) {}

  get url(): string {
    return this.controller!.url;
  }

  /** The API as the farm's admin. */
  http() {
    return authed(this.url, ADMIN_TOKEN);
  }

  async start(): Promise<this> {
    if (!this.databaseUrl) {
      const db = await this.store.create(this.dir);
      this.databaseUrl = db.databaseUrl;
      this.drop = db.drop;
    }
    this.controller = await bootstrap(
      resolveConfig({
        redisUrl: requireEnv('REDIS_URL'),
        dataDir: path.join(this.dir, 'data'),
        databaseUrl: this.databaseUrl,
        queuePrefix: this.queuePrefix,
        port: 0,
        adminToken: ADMIN_TOKEN,
        ...this.settings,
      }),
    );
    this.agentToken ??= (
      await this.http().post('/api/tokens').send({ name: 'farm agents', role: 'agent' }).expect(201)
    ).body.token as string;
    return this;
  }

  async stopController(): Promise<void> {
    await this.controller?.close();
    this.controller = undefined;
  }

  agent(name: string, env: Record<string, string> = {}): AgentProcess {
    const cache = path.join(this.dir, `cache-${name}`);
    fs.mkdirSync(cache, { recursive: true });
    const agent = startAgent(this.url, cache, { VMFARM_TOKEN: this.agentToken!, ...env });
    this.agents.push(agent);
    return agent;
  }

  async close(): Promise<void> {
    for (const a of this.agents) a.kill('SIGKILL');
    await Promise.all(this.agents.map((a) => a.exited));
    await this.stopController();
    await this.drop?.();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
