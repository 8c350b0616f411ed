import { Controller, Inject, Res } from '@nestjs/common';
import { API, openApiDocument, type FarmConfig, type Health, type RouteTable } from '@vmfarm/protocol';
import type { Response } from 'express';
import { sql } from 'kysely';
import type { ControllerConfig } from '../../config';
import type { RunQueue } from '../../queue/run-queue';
import type { Db } from '../../store/database';
import { DB } from '../../store/tokens';
import { withTimeout } from '../../timeout';
import { CONFIG, ROUTE_TABLE, RUN_QUEUE } from '../../tokens';
import { VERSION } from '../../version';
import { Route } from '../route';

@Controller()
export class SystemController {
  private document?: Record<string, unknown>;

  constructor(
    @Inject(CONFIG) private readonly config: ControllerConfig,
    @Inject(DB) private readonly db: Db,
    @Inject(ROUTE_TABLE) private readonly routes: RouteTable,
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
  ) {}

  @Route(API.getConfig)
  farmConfig(): FarmConfig {
    return { redisUrl: this.config.redisUrl, queuePrefix: this.config.queuePrefix };
  }

  /** Each dependency gets the Redis time limit: a hung one is down, not a hung health check. */
  @Route(API.health)
  async health(@Res({ passthrough: true }) res: Response): Promise<Health> {
    const ms = this.config.limits.redisTimeoutMs;
    const check = (work: () => Promise<unknown>) =>
      withTimeout(work(), ms, `no answer within ${ms} ms`).then(
        () => 'ok',
        (err: Error) => err.message || String(err),
      );
    const [database, redis] = await Promise.all([
      check(() => sql`select 1`.execute(this.db)),
      check(() => this.queue.ping()),
    ]);
    const ok = database === 'ok' && redis === 'ok';
    if (!ok) res.status(503);
    return { ok, database, redis, version: VERSION };
  }

  /** Generated from the route table the controller serves. */
  @Route(API.openapi)
  openapi(): Record<string, unknown> {
    return (this.document ??= openApiDocument(this.routes, VERSION));
  }
}
