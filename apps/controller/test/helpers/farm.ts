import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { bootstrap, type RunningController } from '../../src/app';
import { resolveConfig } from '../../src/config';
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
  private databaseUrl?: string;
  private drop?: () => Promise<void>;

  constructor(
    readonly dir: string,
    private readonly store: StoreCase,
  ) {}

  get url(): string {
    return this.controller!.url;
  }

  http() {
    return request(this.url);
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
      }),
    );
    return this;
  }

  async stopController(): Promise<void> {
    await this.controller?.close();
    this.controller = undefined;
  }

  agent(name: string, env: Record<string, string> = {}): AgentProcess {
    const cache = path.join(this.dir, `cache-${name}`);
    fs.mkdirSync(cache, { recursive: true });
    const agent = startAgent(this.url, cache, env);
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
