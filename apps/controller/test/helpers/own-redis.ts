import * as fs from 'node:fs';
import * as path from 'node:path';
import { startRedis, type RedisServer } from '@vmfarm/host';
import { bootstrap, type RunningController } from '../../src/app';
import { resolveConfig } from '../../src/config';
import { ADMIN_TOKEN } from './auth';
import { tempDir, type StoreCase } from './env';
import { FakeScheduler, LocalEventBus } from './fakes';

/** A controller on a Redis of the test's own, which the test may kill, hang or restart. */
export interface OwnRedisFarm {
  farm: RunningController;
  redis: RedisServer;
  dir: string;
  drop(): Promise<void>;
}

/**
 * Starts that Redis and the controller (in process, over a fresh database of `store`; fake
 * scheduler, local event bus), with a Redis timeout of 1 s so that a dead or hung Redis shows soon.
 */
export async function startOwnRedisFarm(
  store: StoreCase,
  stem: string,
  queuePrefix: string,
): Promise<OwnRedisFarm> {
  const dir = tempDir(`${stem}-${store.name}`);
  const db = await store.create(dir);
  const redis = await startRedis({ dataDir: path.join(dir, 'redis') });
  const farm = await bootstrap(
    resolveConfig({
      redisUrl: redis.url,
      dataDir: path.join(dir, 'data'),
      databaseUrl: db.databaseUrl,
      queuePrefix,
      adminToken: ADMIN_TOKEN,
      port: 0,
      limits: { redisTimeoutMs: 1000 },
    }),
    { scheduler: new FakeScheduler(), eventBus: new LocalEventBus() },
  );
  return { farm, redis, dir, drop: db.drop };
}

/** Stops the controller and Redis, drops the database and removes the directory. */
export async function closeOwnRedisFarm({ farm, redis, dir, drop }: OwnRedisFarm): Promise<void> {
  await farm.close();
  await redis.stop();
  await drop();
  fs.rmSync(dir, { recursive: true, force: true });
}
