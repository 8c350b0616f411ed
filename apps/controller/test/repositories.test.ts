import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ImageResource, RunJobData, VerdictRecord } from '@vmfarm/protocol';
import { Caller } from '../src/auth/caller';
import { tokenHash } from '../src/auth/secrets';
import { AgentsRepository } from '../src/store/agents.repository';
import { databaseTarget, openDatabase, type Db } from '../src/store/database';
import { ImagesRepository } from '../src/store/images.repository';
import { MatricesRepository } from '../src/store/matrices.repository';
import { migrateToLatest } from '../src/store/migrations';
import { RunsRepository, type AttemptRecord } from '../src/store/runs.repository';
import { TargetsRepository } from '../src/store/targets.repository';
import { TokensRepository } from '../src/store/tokens.repository';
import { STORES, tempDir } from './helpers/env';

const SHA = 'a'.repeat(64);
const image: ImageResource = {
  sha256: SHA,
  size: 5 * 1024 ** 3, // > 2^32: bigint on PostgreSQL
  format: 'raw',
  arch: 'aarch64',
  archDeclared: true,
  name: 'disk',
  version: '1.0',
  tags: ['nightly', 'testing'],
  owner: null,
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
const all = Caller.system();
const vendor = (tenant: string) => new Caller({ id: tenant, name: tenant, role: 'vendor', tenant });
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
      assert.equal(await images.insert({ ...image, name: 'other', owner: 'acme' }), false);
      assert.deepEqual(await images.get(SHA, all), image);
      assert.deepEqual(await images.getMany([SHA, 'b'.repeat(64)], all), [image]);
      assert.equal((await images.list(all, { limit: 50, offset: 0 })).length, 1);
      assert.equal(await images.get('c'.repeat(64), all), undefined);
      await images.setArchIfUnknown(SHA, 'aarch32');
      assert.equal((await images.get(SHA, all))?.arch, 'aarch64', 'a declared architecture stays');
    });

    it("shows a vendor its own, public and granted images, never another tenant's", async () => {
      const images = new ImagesRepository(db);
      const mine = { ...image, sha256: 'd'.repeat(64), name: 'mine', owner: 'acme' };
      const theirs = { ...image, sha256: 'e'.repeat(64), name: 'theirs', owner: 'globex' };
      await images.insert(mine);
      await images.insert(theirs);
      const names = async (caller: Caller) =>
        (await images.list(caller, { limit: 50, offset: 0 })).map((i) => i.name).sort();
      assert.deepEqual(await names(vendor('acme')), ['disk', 'mine']);
      assert.deepEqual(await names(vendor('globex')), ['disk', 'theirs']);
      assert.deepEqual(await names(all), ['disk', 'mine', 'theirs']);
      assert.equal(await images.get(theirs.sha256, vendor('acme')), undefined);
      assert.deepEqual(await images.getMany([mine.sha256, theirs.sha256], vendor('acme')), [mine]);
      await images.grant(theirs.sha256, 'acme');
      await images.grant(theirs.sha256, 'acme');
      // Granted: shown as acme's own, never naming the tenant that uploaded it first.
      assert.deepEqual(await images.get(theirs.sha256, vendor('acme')), { ...theirs, owner: 'acme' });
      assert.deepEqual(await images.get(theirs.sha256, all), theirs);
      assert.equal(await images.get(mine.sha256, vendor('globex')), undefined);
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
      assert.equal(await targets.insert(profile, image.createdAt, 'acme'), true);
      assert.equal(await targets.insert(profile, image.createdAt, 'globex'), false);
      assert.deepEqual(await targets.get('mine', all), profile);
      assert.deepEqual(await targets.get('mine', vendor('acme')), profile);
      assert.equal(await targets.get('mine', vendor('globex')), undefined);
      assert.deepEqual(await targets.list(all), [profile]);
      assert.deepEqual(await targets.list(vendor('globex')), []);
    });

    it('writes a matrix with its runs in one transaction', async () => {
      const matrices = new MatricesRepository(db);
      const runs = new RunsRepository(db);
      const request = { images: [SHA], targets: ['static'], suites: ['all'] };
      await matrices.create(
        { id: 'm1', request, createdAt: image.createdAt, owner: 'acme', scheduleId: null, cancelled: null },
        [
          { id: 'r1', matrixId: 'm1', seq: 0, job: job('r1'), createdAt: image.createdAt },
          { id: 'r2', matrixId: 'm1', seq: 1, job: job('r2'), createdAt: image.createdAt },
        ],
        [],
      );
      assert.deepEqual((await matrices.get('m1', all))?.request, request);
      assert.equal((await matrices.get('m1', vendor('acme')))?.owner, 'acme');
      assert.equal(await matrices.get('m1', vendor('globex')), undefined);
      assert.equal((await runs.visible('r1', vendor('acme')))?.id, 'r1');
      assert.equal(await runs.visible('r1', vendor('globex')), undefined);
      assert.deepEqual(await matrices.list({ limit: 10 }, vendor('globex')), []);
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
        matrices.create(
          { id: 'm2', request, createdAt: image.createdAt, owner: null, scheduleId: null, cancelled: null },
          [{ id: 'r1', matrixId: 'm2', seq: 0, job: job('r1'), createdAt: image.createdAt }],
          [],
        ),
      );
      assert.equal(await matrices.get('m2', all), undefined);
      assert.deepEqual(
        (await matrices.list({ limit: 10 }, all)).map((m) => m.id),
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
        tokenId: 't-agent',
      };
      await agents.insert(agent);
      assert.equal(await agents.heartbeat('agent-a', '2026-01-01T00:01:00.000Z'), true);
      assert.equal(await agents.heartbeat('nobody', '2026-01-01T00:01:00.000Z'), false);
      assert.deepEqual(await agents.list({ limit: 50, offset: 0 }), [
        { ...agent, lastHeartbeat: '2026-01-01T00:01:00.000Z' },
      ]);
    });

    it('keeps tokens as their sha256 only, finds and revokes them', async () => {
      const tokens = new TokensRepository(db);
      const secret = 'vmf_' + 'x'.repeat(43);
      assert.equal(await tokens.hasLiveAdmin(), false);
      await tokens.insert({
        id: 't1',
        name: 'ci',
        role: 'admin',
        tenant: null,
        sha256: tokenHash(secret),
        createdAt: image.createdAt,
      });
      assert.equal(await tokens.hasLiveAdmin(), true);
      const row = await db.selectFrom('tokens').selectAll().where('id', '=', 't1').executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(row).includes(secret));
      assert.equal(row.token_sha256, tokenHash(secret));
      assert.equal((await tokens.bySha256(tokenHash(secret)))?.name, 'ci');
      await tokens.touch('t1', '2026-01-01T00:05:00.000Z');
      assert.equal(await tokens.revoke('t1', '2026-01-02T00:00:00.000Z'), true);
      assert.equal(await tokens.revoke('t1', '2026-01-03T00:00:00.000Z'), true);
      assert.equal(await tokens.revoke('nope', '2026-01-03T00:00:00.000Z'), false);
      assert.deepEqual(await tokens.list({ limit: 50, offset: 0 }), [
        {
          id: 't1',
          name: 'ci',
          role: 'admin',
          tenant: null,
          createdAt: image.createdAt,
          lastUsedAt: '2026-01-01T00:05:00.000Z',
          revokedAt: '2026-01-02T00:00:00.000Z',
        },
      ]);
      assert.equal(await tokens.hasLiveAdmin(), false);
      await assert.rejects(
        tokens.insert({
          id: 't2',
          name: 'dup',
          role: 'viewer',
          tenant: null,
          sha256: tokenHash(secret),
          createdAt: image.createdAt,
        }),
        'the hash is unique',
      );
    });
  });
}
