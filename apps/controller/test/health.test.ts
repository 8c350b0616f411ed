import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRedis, type RedisServer } from '@vmfarm/host';
import { healthSchema } from '@vmfarm/protocol';
import type { RunningController } from '../src/app';
import { STORES, eventually, uniqueName } from './helpers/env';
import { closeOwnRedisFarm, startOwnRedisFarm } from './helpers/own-redis';

/**
 * GET /api/health answers for the controller's dependencies: 503 naming Redis when Redis is dead or
 * hung, naming the database when it is gone. A Redis of the test's own (it is killed and stopped).
 */
for (const store of STORES) {
  describe(`health reflects Redis and the database (${store.name})`, () => {
    let farm: RunningController;
    let redis: RedisServer;
    let dir: string;
    let drop: () => Promise<void>;
    const health = async () => {
      const res = await fetch(`${farm.url}/api/health`);
      return { status: res.status, body: healthSchema.parse(await res.json()) };
    };

    before(async () => {
      ({ farm, redis, dir, drop } = await startOwnRedisFarm(store, 'health', uniqueName('health')));
    });
    after(() => closeOwnRedisFarm({ farm, redis, dir, drop }));

    it(
      'is 200 when both answer, 503 naming Redis while it is dead or hung',
      { timeout: 60_000 },
      async () => {
        const up = await eventually(async () => {
          const h = await health();
          return h.status === 200 && h;
        });
        assert.deepEqual({ ...up.body, version: '' }, { ok: true, database: 'ok', redis: 'ok', version: '' });

        process.kill(redis.pid, 'SIGKILL');
        await redis.stop();
        const dead = await eventually(async () => {
          const h = await health();
          return h.status === 503 && h;
        });
        assert.equal(dead.body.ok, false);
        assert.equal(dead.body.database, 'ok');
        assert.notEqual(dead.body.redis, 'ok');

        redis = await startRedis({ dataDir: path.join(dir, 'redis'), port: redis.port });
        await eventually(async () => (await health()).status === 200);

        process.kill(redis.pid, 'SIGSTOP');
        try {
          const hung = await health();
          assert.equal(hung.status, 503);
          assert.deepEqual(
            { database: hung.body.database, redis: hung.body.redis },
            { database: 'ok', redis: 'no answer within 1000 ms' },
          );
        } finally {
          process.kill(redis.pid, 'SIGCONT');
        }
        await eventually(async () => (await health()).status === 200);
      },
    );

    if (store.name === 'postgres')
      it('is 503 naming the database when it is gone', { timeout: 60_000 }, async () => {
        await drop();
        drop = async () => undefined;
        const down = await eventually(async () => {
          const h = await health();
          return h.status === 503 && h;
        });
        assert.equal(down.body.redis, 'ok');
        assert.notEqual(down.body.database, 'ok');
        assert.equal(down.body.ok, false);
      });
  });
}
