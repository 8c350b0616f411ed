import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ImageResource, RunJobData, VerdictRecord } from '@vmfarm/protocol';
import { AgentsRepository } from '../src/store/agents.repository';
import { databaseTarget, openDatabase, type Db } from '../src/store/database';
import { ImagesRepository } from '../src/store/images.repository';
import { MatricesRepository } from '../src/store/matrices.repository';
import { migrateToLatest } from '../src/store/migrations';
import { RunsRepository, type AttemptRecord } from '../src/store/runs.repository';
import { TargetsRepository } from '../src/store/targets.repository';
import { STORES, tempDir } from './helpers/env';

const SHA = 'a'.repeat(64);
const image: ImageResource = {
  sha256: SHA,
  size: 5 * 1024 ** 3, // > 2^32: bigint on PostgreSQL
  format: 'raw',
  arch: 'aarch64',
  name: 'disk',
  version: '1.0',
  tags: ['nightly', 'testing'],
  uploadedAs: 'xz',
  createdAt: '2026-01-01T00:00:00.000Z',
};
const job = (runId: string): RunJobData => ({
  runId,
  matrixId: 'm1',
  suite: 'static',
  target: { id: 'static', kind: 'static', description: '', arch: ['aarch64'] },
  image: { sha256: SHA, size: image.size, format: 'raw', arch: 'aarch64' },
});
const verdict: VerdictRecord = {
  suite: 'static',
  clause: 'IMG-GPT',
  level: 'MUST',
  verdict: 'PASS',
  message: 'ok',
  evidence: { lba: 1 },
};
const record = (attempt: number, over: Partial<AttemptRecord> = {}): AttemptRecord => ({
  runId: 'r1',
  attempt,
  agentId: 'agent-a',
  outcome: 'PASS',
  error: null,
  durationMs: 12,
  verdicts: [verdict],
  artifacts: [],
  runState: 'done',
  runVerdict: 'PASS',
  at: '2026-01-01T00:00:02.000Z',
  ...over,
});

for (const store of STORES) {
  describe(`repositories on ${store.name}`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    const dir = tempDir('repo');
    before(async () => {
      const created = await store.create(dir);
      drop = created.drop;
      db = await openDatabase(databaseTarget(created.databaseUrl, dir));
    });
    after(async () => {
      await db.destroy();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('migrates idempotently (a second open changes nothing)', async () => {
      await migrateToLatest(db as never);
    });

    it('stores images once by sha256, sizes beyond 32 bits intact', async () => {
      const images = new ImagesRepository(db);
      assert.equal(await images.insert(image), true);
      assert.equal(await images.insert({ ...image, name: 'other' }), false);
      assert.deepEqual(await images.get(SHA), image);
      assert.deepEqual(await images.getMany([SHA, 'b'.repeat(64)]), [image]);
      assert.equal((await images.list()).length, 1);
      assert.equal(await images.get('c'.repeat(64)), undefined);
      await images.setArchIfUnknown(SHA, 'aarch32');
      assert.equal((await images.get(SHA))?.arch, 'aarch64', 'a declared architecture stays');
    });

    it('stores target profiles, refusing a taken id', async () => {
      const targets = new TargetsRepository(db);
      const profile = {
        id: 'mine',
        kind: 'static' as const,
        description: 'x',
        extends: 'static',
        arch: ['aarch64' as const],
      };
      assert.equal(await targets.insert(profile, image.createdAt), true);
      assert.equal(await targets.insert(profile, image.createdAt), false);
      assert.deepEqual(await targets.get('mine'), profile);
      assert.deepEqual(await targets.list(), [profile]);
    });

    it('writes a matrix with its runs in one transaction', async () => {
      const matrices = new MatricesRepository(db);
      const runs = new RunsRepository(db);
      const request = { images: [SHA], targets: ['static'], suites: ['all'] };
      await matrices.create({ id: 'm1', request, createdAt: image.createdAt, scheduleId: null }, [
        { id: 'r1', matrixId: 'm1', seq: 0, job: job('r1'), createdAt: image.createdAt },
        { id: 'r2', matrixId: 'm1', seq: 1, job: job('r2'), createdAt: image.createdAt },
      ]);
      assert.deepEqual((await matrices.get('m1'))?.request, request);
      assert.deepEqual(
        (await runs.listByMatrix('m1')).map((r) => [r.id, r.state, r.attempts]),
        [
          ['r1', 'queued', 0],
          ['r2', 'queued', 0],
        ],
      );
      assert.deepEqual((await runs.get('r1'))?.job, job('r1'));
      // A failing run insert (duplicate id) leaves no matrix behind.
      await assert.rejects(
        matrices.create({ id: 'm2', request, createdAt: image.createdAt, scheduleId: null }, [
          { id: 'r1', matrixId: 'm2', seq: 0, job: job('r1'), createdAt: image.createdAt },
        ]),
      );
      assert.equal(await matrices.get('m2'), undefined);
      assert.deepEqual(
        (await matrices.list(10)).map((m) => m.id),
        ['m1'],
      );
    });

    it('starts attempts once and marks an unfinished earlier attempt lost', async () => {
      const runs = new RunsRepository(db);
      await runs.startAttempt('r1', 1, 'agent-a', '2026-01-01T00:00:01.000Z');
      await runs.startAttempt('r1', 1, 'agent-a', '2026-01-01T00:00:01.000Z');
      assert.equal((await runs.get('r1'))?.state, 'running');
      await runs.startAttempt('r1', 2, 'agent-b', '2026-01-01T00:00:03.000Z');
      const attempts = await runs.attempts('r1');
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [
          [1, 'agent-a', 'lost'],
          [2, 'agent-b', null],
        ],
      );
      assert.equal((await runs.get('r1'))?.attempts, 2);
    });

    it('records an attempt exactly once; a late result for a lost attempt changes nothing', async () => {
      const runs = new RunsRepository(db);
      assert.equal(await runs.recordAttempt(record(1)), false, 'attempt 1 was lost');
      assert.equal(await runs.recordAttempt(record(2, { agentId: 'agent-b' })), true);
      assert.equal(await runs.recordAttempt(record(2, { agentId: 'agent-b', outcome: 'FAIL' })), false);
      const run = await runs.get('r1');
      assert.deepEqual([run?.state, run?.verdict, run?.finalAttempt, run?.attempts], ['done', 'PASS', 2, 2]);
      assert.deepEqual((await runs.finalVerdicts([run!])).get('r1'), [verdict]);
      assert.deepEqual(
        (await runs.attempts('r1')).map((a) => [a.attempt, a.outcome, a.durationMs]),
        [
          [1, 'lost', null],
          [2, 'PASS', 12],
        ],
      );
      // A new attempt on a done run leaves the run alone.
      await runs.startAttempt('r1', 3, 'agent-c', '2026-01-01T00:00:04.000Z');
      assert.equal((await runs.get('r1'))?.state, 'done');
      assert.equal(await runs.recordAttempt(record(3, { outcome: 'ERROR', runVerdict: 'ERROR' })), false);
      assert.equal((await runs.get('r1'))?.verdict, 'PASS');
    });

    it('keeps a retrying run open and lists unfinished runs', async () => {
      const runs = new RunsRepository(db);
      const recorded = await runs.recordAttempt(
        record(1, {
          runId: 'r2',
          outcome: 'ERROR',
          error: 'host broke',
          runState: 'retrying',
          runVerdict: null,
          verdicts: [{ ...verdict, verdict: 'ERROR' }],
          artifacts: [{ attempt: 1, name: 'log.txt', mediaType: 'text/plain', size: 3, path: '/x/log.txt' }],
        }),
      );
      assert.equal(recorded, true);
      const run = await runs.get('r2');
      assert.deepEqual([run?.state, run?.verdict, run?.finalAttempt], ['retrying', null, null]);
      assert.deepEqual((await runs.finalVerdicts([run!])).get('r2'), []);
      assert.deepEqual(
        (await runs.listUnfinished()).map((r) => r.id),
        ['r2'],
      );
      assert.deepEqual(await runs.artifacts('r2'), [
        { attempt: 1, name: 'log.txt', mediaType: 'text/plain', size: 3, path: '/x/log.txt' },
      ]);
    });

    it('tracks agents and their heartbeats', async () => {
      const agents = new AgentsRepository(db);
      const agent = {
        id: 'agent-a',
        name: 'a',
        host: 'h',
        version: '1',
        capabilities: { targetKinds: ['static' as const], probes: {}, concurrency: 2 },
        registeredAt: image.createdAt,
        lastHeartbeat: image.createdAt,
      };
      await agents.insert(agent);
      assert.equal(await agents.heartbeat('agent-a', '2026-01-01T00:01:00.000Z'), true);
      assert.equal(await agents.heartbeat('nobody', '2026-01-01T00:01:00.000Z'), false);
      assert.deepEqual(await agents.list(), [{ ...agent, lastHeartbeat: '2026-01-01T00:01:00.000Z' }]);
    });
  });
}
