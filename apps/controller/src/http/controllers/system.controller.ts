import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FarmConfig } from '@vmfarm/protocol';
import type { Response } from 'express';
import { sql } from 'kysely';
import type { ControllerConfig } from '../../config';
import type { Db } from '../../store/database';
import { Allow, Public } from '../../auth/guard';
import { AGENTS } from '../../auth/policy';
import { DB } from '../../store/tokens';
import { CONFIG } from '../../tokens';
import { VERSION } from '../../version';
import { openApiDocument } from '../openapi';

@Controller('api')
export class SystemController {
  private document?: Record<string, unknown>;

  constructor(
    @Inject(CONFIG) private readonly config: ControllerConfig,
    @Inject(DB) private readonly db: Db,
  ) {}

  /** Where the queues are (the Redis URL may carry a password): agents and admins only. */
  @Get('config')
  @Allow(AGENTS)
  farmConfig(): FarmConfig {
    return { redisUrl: this.config.redisUrl, queuePrefix: this.config.queuePrefix };
  }

  @Get('health')
  @Public()
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

  @Get('openapi.json')
  @Public()
  openapi(): Record<string, unknown> {
    return (this.document ??= openApiDocument(VERSION));
  }
}
