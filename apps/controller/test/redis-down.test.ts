import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { redisConnection, startRedis, type RedisServer } from '@vmfarm/host';
import { queueName, type MatrixView } from '@vmfarm/protocol';
import { Queue } from 'bullmq';
import type { RunningController } from '../src/app';
import type { Db } from '../src/store/database';
import { DB } from '../src/store/tokens';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { STORES, uniqueName } from './helpers/env';
import { closeOwnRedisFarm, startOwnRedisFarm } from './helpers/own-redis';

/**
 * POST /api/matrices when Redis dies or hangs: a 503 at once, nothing written; the client's retry
 * with the same Idempotency-Key makes the matrix once. A Redis of the test's own (it is killed);
 * the schedules' job schedulers and the event bus stay in process.
 */
for (const store of STORES) {
  describe(`submitting a matrix while Redis is away (${store.name})`, () => {
    let farm: RunningController;
    let redis: RedisServer;
    let dir: string;
    let drop: () => Promise<void>;
    const prefix = uniqueName('redisdown');
    const admin = () => authed(farm.url, ADMIN_TOKEN);
    let request: { images: string[]; targets: string[]; suites: string[] };
    const rows = async () => {
      const db = farm.app.get<Db>(DB);
      const count = async (table: 'matrices' | 'runs' | 'idempotency_keys') =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<number | string>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return {
        matrices: await count('matrices'),
        runs: await count('runs'),
        keys: await count('idempotency_keys'),
      };
    };

    before(async () => {
      ({ farm, redis, dir, drop } = await startOwnRedisFarm(store, 'redisdown', prefix));
      const sha = (
        await admin()
          .put('/api/images?name=disk&arch=aarch64')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(2048, 3))
          .expect(201)
      ).body.sha256;
      request = { images: [sha], targets: ['static'], suites: ['static'] };
    });
    after(() => closeOwnRedisFarm({ farm, redis, dir, drop }));

    it('answers a repeated Idempotency-Key with the matrix it made, and another request with 422', async () => {
      const first = await admin()
        .post('/api/matrices')
        .set('idempotency-key', 'submit-1')
        .send(request)
        .expect(201);
      const again = await admin()
        .post('/api/matrices')
        .set('idempotency-key', 'submit-1')
        .send(request)
        .expect(200);
      assert.equal((again.body as MatrixView).id, first.body.id);
      const other = await admin()
        .post('/api/matrices')
        .set('idempotency-key', 'submit-1')
        .send({ ...request, suites: ['all'] })
        .expect(422);
      assert.match(other.body.message, /Idempotency-Key submit-1 was used for another request/);
      // Keys are per token: another token's same key is a submit of its own.
      const vendor = (
        await admin().post('/api/tokens').send({ name: 'v', role: 'vendor', tenant: 'acme' }).expect(201)
      ).body.token;
      const theirs = await authed(farm.url, vendor)
        .post('/api/matrices')
        .set('idempotency-key', 'submit-1')
        .send(request)
        .expect(201);
      assert.notEqual(theirs.body.id, first.body.id);
      await admin().post('/api/matrices').set('idempotency-key', 'has space').send(request).expect(400);
      assert.deepEqual(await rows(), { matrices: 2, runs: 2, keys: 2 });
    });

    it(
      'answers 503 at once when Redis is dead or hung, writes nothing, and a retry makes the matrix once',
      { timeout: 120_000 },
      async () => {
        const before = await rows();
        // Dead.
        process.kill(redis.pid, 'SIGKILL');
        await redis.stop();
        const dead = await admin()
          .post('/api/matrices')
          .set('idempotency-key', 'submit-2')
          .send(request)
          .expect(503);
        assert.match(
          dead.body.message,
          /cannot submit the matrix: the queue \(Redis\) is unavailable: .*; nothing was written/,
        );
        assert.deepEqual(await rows(), before);

        // Back, then hung (stopped): the wait is bounded by VMFARM_REDIS_TIMEOUT_MS.
        redis = await startRedis({ dataDir: path.join(dir, 'redis'), port: redis.port });
        const queue = new Queue(queueName('static'), { connection: redisConnection(redis.url), prefix });
        try {
          // The controller's connection comes back on its own.
          let made: MatrixView | undefined;
          for (let i = 0; !made; i++) {
            const res = await admin().post('/api/matrices').set('idempotency-key', 'submit-2').send(request);
            if (res.status === 201) made = res.body as MatrixView;
            else {
              assert.equal(res.status, 503, res.text);
              await new Promise((r) => setTimeout(r, 200));
            }
          }
          assert.ok(await queue.getJob(made.cells[0].runId), 'its job is queued');
          const replay = await admin()
            .post('/api/matrices')
            .set('idempotency-key', 'submit-2')
            .send(request)
            .expect(200);
          assert.equal(replay.body.id, made.id);
          assert.deepEqual(await rows(), {
            matrices: before.matrices + 1,
            runs: before.runs + 1,
            keys: before.keys + 1,
          });

          process.kill(redis.pid, 'SIGSTOP');
          try {
            const hung = await admin()
              .post('/api/matrices')
              .set('idempotency-key', 'submit-3')
              .send(request)
              .expect(503);
            assert.match(
              hung.body.message,
              /Redis did not answer within 1000 ms \(VMFARM_REDIS_TIMEOUT_MS\)/,
            );
            assert.deepEqual(await rows(), {
              matrices: before.matrices + 1,
              runs: before.runs + 1,
              keys: before.keys + 1,
            });
          } finally {
            process.kill(redis.pid, 'SIGCONT');
          }
        } finally {
          await queue.close();
        }
      },
    );
  });
}
