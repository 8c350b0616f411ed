import { Controller, Inject, Res } from '@nestjs/common';
import { API, openApiDocument, type FarmConfig, type RouteTable } from '@vmfarm/protocol';
import type { Response } from 'express';
import { sql } from 'kysely';
import type { ControllerConfig } from '../../config';
import type { Db } from '../../store/database';
import { DB } from '../../store/tokens';
import { CONFIG, ROUTE_TABLE } from '../../tokens';
import { VERSION } from '../../version';
import { Route } from '../route';

@Controller()
export class SystemController {
  private document?: Record<string, unknown>;

  constructor(
    @Inject(CONFIG) private readonly config: ControllerConfig,
    @Inject(DB) private readonly db: Db,
    @Inject(ROUTE_TABLE) private readonly routes: RouteTable,
  ) {}

  @Route(API.getConfig)
  farmConfig(): FarmConfig {
    return { redisUrl: this.config.redisUrl, queuePrefix: this.config.queuePrefix };
  }

  @Route(API.health)
  async health(
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ ok: boolean; database: string; version: string }> {
    try {
      await sql`select 1`.execute(this.db);
      return { ok: true, database: 'ok', version: VERSION };
    } catch (err) {
      res.status(503);
      return { ok: false, database: (err as Error).message, version: VERSION };
    }
  }

  /** Generated from the route table the controller serves. */
  @Route(API.openapi)
  openapi(): Record<string, unknown> {
    return (this.document ??= openApiDocument(this.routes, VERSION));
  }
}
