import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ImageResource, RunJobData, Verdict } from '@vmfarm/protocol';
import { Caller } from '../src/auth/caller';
import { databaseTarget, openDatabase, type Db } from '../src/store/database';
import { HistoryRepository } from '../src/store/history.repository';
import { HooksRepository, type HookRow } from '../src/store/hooks.repository';
import { ImagesRepository } from '../src/store/images.repository';
import { KnownIssuesRepository } from '../src/store/known-issues.repository';
import { MatricesRepository } from '../src/store/matrices.repository';
import { PoliciesRepository } from '../src/store/policies.repository';
import { RetentionRepository } from '../src/store/retention.repository';
import { RunsRepository } from '../src/store/runs.repository';
import { SettlementsRepository } from '../src/store/settlements.repository';
import type { KnownIssue } from '../src/triage/known-issues';
import { STORES, tempDir } from './helpers/env';

const all = Caller.system();
const vendor = (tenant: string) => new Caller({ id: tenant, name: tenant, role: 'vendor', tenant });

const image = (sha: string, name: string, tags: string[], owner: string | null = null): ImageResource => ({
  sha256: sha.repeat(64),
  size: 512,
  format: 'raw',
  arch: 'aarch64',
  archDeclared: true,
  name,
  version: '1',
  tags,
  owner,
  uploadedAs: 'raw',
  createdAt: `2026-01-0${sha}T00:00:00.000Z`,
});
const DEB = image('1', 'debian', ['nightly']);
const ACME = image('2', 'acme-os', ['nightly'], 'acme');

const issue = (id: string, over: Partial<KnownIssue> = {}): KnownIssue => ({
  id,
  title: `issue ${id}`,
  owner: 'qa',
  link: 'https://bugs.example/1',
  reason: 'r',
  expiresAt: null,
  match: { clauses: ['IMG-G?T', 'VBSA:V_L1*'], target: 'stat*' },
  fixedAfter: 2,
  tenant: null,
  version: 1,
  createdBy: 'admin',
  createdAt: '2026-02-01T00:00:00.000Z',
  updatedAt: '2026-02-01T00:00:00.000Z',
  closedAt: null,
  ...over,
});

for (const store of STORES) {
  describe(`triage store on ${store.name}`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    const dir = tempDir('triage-store');
    before(async () => {
      const created = await store.create(dir);
      drop = created.drop;
      db = await openDatabase(databaseTarget(created.databaseUrl, dir));
      const images = new ImagesRepository(db);
      for (const i of [DEB, ACME]) await images.insert(i);
    });
    after(async () => {
      await db.destroy();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A matrix of one run per cell, each finished (unless done: false) with the verdicts given. */
    async function matrix(
      id: string,
      at: string,
      scheduleId: string | null,
      cells: {
        image: ImageResource;
        verdicts: [string, Verdict][];
        done?: boolean;
        retryOf?: string;
        artifact?: number;
      }[],
      owner: string | null = null,
    ) {
      const runs = new RunsRepository(db);
      const jobs = cells.map((c, seq) => {
        const job: RunJobData = {
          runId: `${id}-r${seq}`,
          matrixId: id,
          suite: 'static',
          target: { id: 'static', kind: 'static', description: '', arch: ['aarch64'] },
          image: { sha256: c.image.sha256, size: 512, format: 'raw', arch: 'aarch64' },
        };
        return { id: job.runId, matrixId: id, seq, job, createdAt: at, retryOf: c.retryOf };
      });
      const request = { images: [DEB.sha256], targets: ['static'], suites: ['all'] };
      await new MatricesRepository(db).create(
        { id, request, createdAt: at, owner, scheduleId, cancelled: null },
        jobs,
        [],
      );
      for (const [i, c] of cells.entries()) {
        if (c.done === false) continue;
        const worst = c.verdicts.some(([, v]) => v === 'FAIL') ? 'FAIL' : 'PASS';
        await runs.recordAttempt({
          runId: jobs[i].id,
          attempt: 1,
          agentId: 'a',
          outcome: worst,
          error: null,
          durationMs: 1,
          verdicts: c.verdicts.map(([clause, verdict]) => ({
            suite: 'static',
            clause,
            level: 'MUST',
            verdict,
            message: `${clause} ${verdict}`,
            evidence: {},
          })),
          artifacts:
            c.artifact === undefined
              ? []
              : [
                  {
                    attempt: 1,
                    name: 'console.log',
                    mediaType: 'text/plain',
                    size: c.artifact,
                    path: `/x/${jobs[i].id}`,
                  },
                ],
          runState: 'done',
          runVerdict: worst,
          at: at.replace('00:00.000Z', '00:30.000Z'),
        });
      }
      return jobs.map((j) => j.id);
    }

    it('stores known issues with tenancy, versions, closing and expiry claimed once', async () => {
      const repo = new KnownIssuesRepository(db);
      await repo.insert(issue('ki-pub', { expiresAt: '2026-03-01T00:00:00.000Z' }));
      await repo.insert(
        issue('ki-acme', {
          tenant: 'acme',
          match: { clauses: ['IMG-ESP'] },
          createdAt: '2026-02-01T00:00:01.000Z',
        }),
      );
      assert.deepEqual((await repo.get('ki-pub', all))?.match, issue('x').match);
      assert.deepEqual(
        (await repo.list(vendor('acme'))).map((i) => i.id),
        ['ki-pub', 'ki-acme'],
      );
      assert.deepEqual(
        (await repo.list(vendor('globex'))).map((i) => i.id),
        ['ki-pub'],
      );
      assert.equal(await repo.get('ki-acme', vendor('globex')), undefined);
      assert.deepEqual(await repo.claimExpired('2026-02-15T00:00:00.000Z'), []);
      assert.deepEqual(
        (await repo.claimExpired('2026-03-02T00:00:00.000Z')).map((i) => i.id),
        ['ki-pub'],
      );
      assert.deepEqual(await repo.claimExpired('2026-03-02T00:00:00.000Z'), [], 'announced once');
      const renewed = { ...issue('ki-pub'), expiresAt: '2026-04-01T00:00:00.000Z', version: 2 };
      assert.equal(await repo.update(renewed), true);
      assert.equal((await repo.get('ki-pub', all))?.version, 2);
      assert.deepEqual(
        (await repo.claimExpired('2026-04-02T00:00:00.000Z')).map((i) => i.id),
        ['ki-pub'],
        'a new expiry is announced again',
      );
      await repo.update({ ...issue('ki-acme', { tenant: 'acme' }), closedAt: '2026-02-02T00:00:00.000Z' });
      assert.deepEqual(
        (await repo.open()).map((i) => i.id),
        ['ki-pub'],
      );
    });

    it('finds the verdicts in an issue’s scope, newest first, leaving out runs a retry replaced', async () => {
      await matrix('k1', '2026-02-02T00:00:00.000Z', null, [
        {
          image: DEB,
          verdicts: [
            ['IMG-GPT', 'FAIL'],
            ['IMG-ESP', 'PASS'],
          ],
        },
      ]);
      const [orig] = await matrix('k2', '2026-02-03T00:00:00.000Z', null, [
        { image: DEB, verdicts: [['IMG-GPT', 'FAIL']] },
      ]);
      const runs = new RunsRepository(db);
      const [retry] = await matrix('k3', '2026-02-04T00:00:00.000Z', null, [
        { image: DEB, verdicts: [['VBSA:V_L1PE_01', 'PASS']] },
      ]);
      await db.updateTable('runs').set({ retry_of: orig }).where('id', '=', retry).execute();
      assert.equal((await runs.get(retry))?.retryOf, orig);
      const repo = new KnownIssuesRepository(db);
      const scoped = await repo.scopedVerdicts(issue('ki-x'), 100);
      assert.deepEqual(
        scoped.map((v) => [v.runId, v.clause, v.verdict]),
        [
          [retry, 'VBSA:V_L1PE_01', 'PASS'],
          ['k1-r0', 'IMG-GPT', 'FAIL'],
        ],
      );
      assert.deepEqual(
        await repo.scopedVerdicts(issue('ki-y', { tenant: 'acme' }), 100),
        [],
        'acme has no matrix',
      );
      assert.deepEqual((await repo.tagsOf([DEB.sha256])).get(DEB.sha256), ['nightly']);
      // History leaves the replaced run out too: the retry's verdict is the cell's.
      const rows = await new HistoryRepository(db).clauseVerdicts({ matrixIds: ['k2'] }, 1, all);
      assert.deepEqual(rows, []);
      assert.equal(
        (await new HistoryRepository(db).clauseVerdicts({ matrixIds: ['k1'] }, 1, all))[0].matrixOwner,
        null,
      );
    });

    it('claims each settlement round once: retries with their runs, or the settlement with its deliveries', async () => {
      const repo = new SettlementsRepository(db);
      await matrix('s1', '2026-02-05T00:00:00.000Z', null, [{ image: DEB, verdicts: [['IMG-GPT', 'PASS']] }]);
      assert.ok((await repo.unsettled(100)).includes('s1'));
      const job: RunJobData = {
        runId: 's1-retry',
        matrixId: 's1',
        suite: 'static',
        target: { id: 'static', kind: 'static', description: '', arch: ['aarch64'] },
        image: { sha256: DEB.sha256, size: 512, format: 'raw', arch: 'aarch64' },
      };
      const retry = { id: 's1-retry', matrixId: 's1', seq: 1, job, createdAt: 't', retryOf: 's1-r0' };
      assert.equal(await repo.retry('s1', 0, [retry], 't'), true);
      assert.equal(await repo.retry('s1', 0, [{ ...retry, id: 'other' }], 't'), false, 'claimed already');
      assert.equal((await new RunsRepository(db).get('s1-retry'))?.retryOf, 's1-r0');
      assert.equal(await new RunsRepository(db).get('other'), undefined);
      const hooks = new HooksRepository(db);
      await hooks.insert(hook('h-settle', { kind: 'farm' }, null));
      const delivery = {
        id: 'd-settle',
        hookId: 'h-settle',
        eventId: 'e1',
        event: 'matrix.done' as const,
        body: '{}',
        at: 't',
      };
      assert.equal(await repo.settle('s1', 1, { regressions: [] }, [delivery], 't'), true);
      assert.equal(await repo.settle('s1', 1, {}, [{ ...delivery, id: 'd-2', eventId: 'e2' }], 't'), false);
      assert.deepEqual(
        (await repo.rounds('s1')).map((r) => [r.round, r.state, r.retried, r.outcome]),
        [
          [0, 'retrying', 1, null],
          [1, 'settled', 0, { regressions: [] }],
        ],
      );
      assert.ok(!(await repo.unsettled(100)).includes('s1'));
      assert.deepEqual(
        (await hooks.deliveries('h-settle', 10)).map((d) => d.id),
        ['d-settle'],
      );
    });

    it('stores policies per scope, seen by their tenant', async () => {
      const repo = new PoliciesRepository(db);
      await repo.put(
        { scope: { kind: 'farm' }, retries: 2, keepDays: 30, keepMatrices: null, updatedAt: 't' },
        null,
      );
      await repo.put(
        {
          scope: { kind: 'tenant', tenant: 'acme' },
          retries: null,
          keepDays: null,
          keepMatrices: 5,
          updatedAt: 't',
        },
        'acme',
      );
      await repo.put(
        {
          scope: { kind: 'tenant', tenant: 'acme' },
          retries: 1,
          keepDays: null,
          keepMatrices: 5,
          updatedAt: 'u',
        },
        'acme',
      );
      assert.deepEqual(
        (await repo.list(all)).map((p) => [p.scope, p.retries, p.keepDays, p.keepMatrices, p.updatedAt]),
        [
          [{ kind: 'farm' }, 2, 30, null, 't'],
          [{ kind: 'tenant', tenant: 'acme' }, 1, null, 5, 'u'],
        ],
      );
      assert.deepEqual(
        (await repo.list(vendor('globex'))).map((p) => p.scope.kind),
        ['farm'],
      );
      assert.equal(await repo.delete({ kind: 'tenant', tenant: 'acme' }), true);
      assert.equal(await repo.delete({ kind: 'tenant', tenant: 'acme' }), false);
    });

    function hook(id: string, scope: HookRow['scope'], tenant: string | null): HookRow {
      return {
        id,
        scope,
        kind: 'webhook',
        url: 'http://127.0.0.1:9/hook',
        to: null,
        secret: 'secret-secret-secret',
        events: ['matrix.done', 'regression'],
        enabled: true,
        tenant,
        createdAt: `2026-02-0${id.length % 9}T00:00:00.000Z`,
        allowInternal: tenant === null,
      };
    }

    it('keeps hooks and an outbox of deliveries: queued once, claimed by one sender, retried, logged', async () => {
      const repo = new HooksRepository(db);
      await repo.insert(hook('h-acme', { kind: 'tenant', tenant: 'acme' }, 'acme'));
      await repo.insert(hook('h-sched', { kind: 'schedule', scheduleId: 'sx' }, null));
      assert.deepEqual(
        (await repo.list(vendor('acme'))).map((h) => h.id),
        ['h-acme'],
        "an admin's hooks are not a vendor's to see",
      );
      assert.deepEqual(
        (
          await repo.forScopes([
            { kind: 'tenant', tenant: 'acme' },
            { kind: 'schedule', scheduleId: 'sx' },
          ])
        )
          .map((h) => h.id)
          .sort(),
        ['h-acme', 'h-sched'],
      );
      const d = {
        id: 'd1',
        hookId: 'h-acme',
        eventId: 'ev1',
        event: 'regression' as const,
        body: '{"a":1}',
        at: '2026-02-10T00:00:00.000Z',
      };
      await repo.enqueue([d, d, { ...d, id: 'd1-again' }]);
      const now = '2026-02-10T00:00:01.000Z';
      const claimed = await repo.claimDue(now, '2026-02-10T00:01:00.000Z', 10);
      assert.deepEqual(
        claimed.filter((c) => c.hookId === 'h-acme').map((c) => [c.id, c.attempts, c.body]),
        [['d1', 0, '{"a":1}']],
        'one delivery per hook and event',
      );
      assert.deepEqual(
        (await repo.claimDue(now, '2026-02-10T00:01:00.000Z', 10)).filter((c) => c.hookId === 'h-acme'),
        [],
        'claimed: no second sender',
      );
      await repo.recordAttempt('d1', 1, {
        at: now,
        status: 503,
        error: 'HTTP 503',
        durationMs: 3,
        state: 'pending',
        nextAt: '2026-02-10T00:00:05.000Z',
      });
      assert.deepEqual(
        await repo.claimDue('2026-02-10T00:00:02.000Z', 'x', 10).then((l) => l.filter((c) => c.id === 'd1')),
        [],
      );
      const again = (await repo.claimDue('2026-02-10T00:00:06.000Z', '2026-02-10T00:01:06.000Z', 10)).find(
        (c) => c.id === 'd1',
      );
      assert.equal(again?.attempts, 1);
      await repo.recordAttempt('d1', 2, {
        at: '2026-02-10T00:00:06.000Z',
        status: 200,
        error: null,
        durationMs: 2,
        state: 'delivered',
        nextAt: null,
      });
      const [log] = await repo.deliveries('h-acme', 10);
      assert.deepEqual(
        [log.state, log.attempts, log.deliveredAt, log.log.map((a) => [a.attempt, a.status, a.error])],
        [
          'delivered',
          2,
          '2026-02-10T00:00:06.000Z',
          [
            [1, 503, 'HTTP 503'],
            [2, 200, null],
          ],
        ],
      );
      assert.equal(await repo.delete('h-acme'), true);
      assert.deepEqual(await repo.deliveries('h-acme', 10), []);
    });

    it('reads what the janitor needs and logs deletions', async () => {
      const repo = new RetentionRepository(db);
      const [r1] = await matrix('j1', '2026-02-20T00:00:00.000Z', 'sj', [
        { image: DEB, verdicts: [['IMG-GPT', 'FAIL']], artifact: 100 },
      ]);
      const [r2] = await matrix('j2', '2026-02-21T00:00:00.000Z', 'sj', [
        { image: DEB, verdicts: [['IMG-GPT', 'PASS']], artifact: 50 },
      ]);
      await matrix(
        'j3',
        '2026-02-22T00:00:00.000Z',
        null,
        [{ image: ACME, verdicts: [], done: false }],
        'acme',
      );
      const ms = new Map((await repo.matrices()).map((m) => [m.id, m]));
      assert.deepEqual(
        [ms.get('j1')?.done, ms.get('j3')?.done, ms.get('j3')?.owner, ms.get('j1')?.scheduleId],
        [true, false, 'acme', 'sj'],
      );
      const arts = await repo.artifactsOf(['j1', 'j2']);
      assert.deepEqual(
        arts.map((a) => [a.matrixId, a.runId, a.size]),
        [
          ['j1', r1, 100],
          ['j2', r2, 50],
        ],
      );
      assert.deepEqual(
        (await repo.failsOf([r1, r2])).map((f) => [f.runId, f.clause]),
        [[r1, 'IMG-GPT']],
      );
      const cert = await repo.certificationRuns();
      assert.ok(cert.has(r2) && !cert.has(r1), 'the latest judgement of IMG-GPT on static is j2');
      const uses = new Map((await repo.imageUses()).map((u) => [u.sha256, u]));
      assert.equal(uses.get(ACME.sha256)?.running, true);
      assert.ok(uses.get(DEB.sha256)?.matrices.includes('j1'));
      const usage = new Map((await repo.artifactUsage()).map((u) => [u.scheduleId, u]));
      assert.deepEqual(usage.get('sj'), { scheduleId: 'sj', matrices: 2, count: 2, bytes: 150 });
      const deletion = {
        id: 'del1',
        at: '2026-03-01T00:00:00.000Z',
        kind: 'artifact' as const,
        runId: r1,
        attempt: 1,
        name: 'console.log',
        sha256: null,
        bytes: 100,
        reason: 'schedule sj: not among the newest 1',
      };
      assert.equal(await repo.artifactDeleted(arts[0], deletion, '/x'), true);
      assert.equal(
        await repo.artifactDeleted(arts[0], { ...deletion, id: 'del2' }, '/x'),
        false,
        'logged once',
      );
      assert.deepEqual(await repo.artifactsOf(['j1']), []);
      assert.deepEqual(await repo.deletions(10), [deletion]);
    });
  });
}
