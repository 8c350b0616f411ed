import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ImageResource, RunJobData, Verdict } from '@vmfarm/protocol';
import { Caller } from '../src/auth/caller';
import { databaseTarget, openDatabase, type Db } from '../src/store/database';
import { HistoryRepository } from '../src/store/history.repository';
import { ImagesRepository } from '../src/store/images.repository';
import { MatricesRepository } from '../src/store/matrices.repository';
import { RunsRepository } from '../src/store/runs.repository';
import { SchedulesRepository, type ScheduleRow } from '../src/store/schedules.repository';
import { TargetsRepository } from '../src/store/targets.repository';
import { STORES, tempDir } from './helpers/env';

const all = Caller.system();
const vendor = (tenant: string) => new Caller({ id: tenant, name: tenant, role: 'vendor', tenant });

const image = (
  sha: string,
  name: string,
  version: string | null,
  tags: string[],
  owner: string | null = null,
): ImageResource => ({
  sha256: sha.repeat(64),
  size: 512,
  format: 'raw',
  arch: 'aarch64',
  archDeclared: true,
  name,
  version,
  tags,
  owner,
  uploadedAs: 'raw',
  createdAt: `2026-01-0${sha}T00:00:00.000Z`,
});
const V1 = image('1', 'debian', '1', ['nightly', 'testing']);
const V2 = image('2', 'debian', '2', ['testing', 'nightly']);
const OTHER = image('3', 'fedora', null, ['nightly']);
/** Another tenant's image, of the same name as a public one. */
const GLOBEX = image('5', 'debian', '9', ['nightly', 'testing'], 'globex');

const schedule: ScheduleRow = {
  id: 's1',
  name: 'nightly',
  cron: '0 2 * * *',
  timezone: 'UTC',
  spec: { images: { tags: ['nightly'] }, targets: ['static'], suites: ['all'], ready: null },
  enabled: true,
  owner: null,
  nextRunAt: '2026-01-02T02:00:00.000Z',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

for (const store of STORES) {
  describe(`history store on ${store.name}`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    const dir = tempDir('history-store');
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

    /** A matrix of one run per image, each finished with one verdict per clause given. */
    async function matrix(
      id: string,
      at: string,
      scheduleId: string | null,
      cells: {
        image: ImageResource;
        verdicts: [string, Verdict][];
        done?: boolean;
        target?: string;
        evidence?: Record<string, unknown>;
      }[],
      owner: string | null = null,
    ) {
      const runs = new RunsRepository(db);
      const jobs = cells.map((c, seq) => {
        const job: RunJobData = {
          runId: `${id}-r${seq}`,
          matrixId: id,
          suite: 'static',
          target: { id: c.target ?? 'static', kind: 'static', description: '', arch: ['aarch64'] },
          image: { sha256: c.image.sha256, size: 512, format: 'raw', arch: 'aarch64' },
        };
        return { id: job.runId, matrixId: id, seq, job, createdAt: at };
      });
      const request = { images: cells.map((c) => c.image.sha256), targets: ['static'], suites: ['all'] };
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
            evidence: { clause, ...c.evidence },
          })),
          artifacts: [],
          runState: 'done',
          runVerdict: worst,
          at: at.replace('00:00.000Z', '00:30.000Z'),
        });
      }
    }

    it('stores image versions and tags, patches them and selects images by every tag', async () => {
      const images = new ImagesRepository(db);
      for (const i of [V1, V2, OTHER]) assert.equal(await images.insert(i), true);
      assert.deepEqual((await images.get(V1.sha256, all))?.tags, ['nightly', 'testing']);
      assert.deepEqual(
        (await images.withEveryTag(['nightly', 'testing'], all)).map((i) => i.version),
        ['1', '2'],
      );
      assert.deepEqual(
        (await images.withEveryTag(['nightly'], all)).map((i) => i.name),
        ['debian', 'debian', 'fedora'],
      );
      assert.deepEqual(await images.withEveryTag(['nope'], all), []);
      assert.equal(await images.update(OTHER.sha256, { version: '40', tags: ['rawhide'] }, all), 'updated');
      assert.deepEqual(await images.get(OTHER.sha256, all), { ...OTHER, version: '40', tags: ['rawhide'] });
      assert.equal(
        await images.update(OTHER.sha256, { version: null, tags: [], name: 'fedora-x' }, all),
        'updated',
      );
      assert.deepEqual(await images.get(OTHER.sha256, all), {
        ...OTHER,
        name: 'fedora-x',
        version: null,
        tags: [],
      });
      assert.equal(await images.update('f'.repeat(64), { name: 'x' }, all), 'missing');
    });

    it("selects and patches a vendor's images only among those it may see or owns", async () => {
      const images = new ImagesRepository(db);
      assert.equal(await images.insert(GLOBEX), true);
      const tagged = async (caller: Caller) =>
        (await images.withEveryTag(['nightly', 'testing'], caller)).map((i) => i.sha256);
      assert.deepEqual(await tagged(vendor('acme')), [V1.sha256, V2.sha256]);
      assert.deepEqual(await tagged(vendor('globex')), [V1.sha256, V2.sha256, GLOBEX.sha256]);
      assert.equal(await images.update(GLOBEX.sha256, { version: '10' }, vendor('acme')), 'missing');
      assert.equal(await images.update(V1.sha256, { version: 'x' }, vendor('globex')), 'forbidden');
      assert.equal(await images.update(GLOBEX.sha256, { version: '9' }, vendor('globex')), 'updated');
      assert.equal((await images.get(V1.sha256, all))?.version, '1');
    });

    it('stores schedules and claims each due time once', async () => {
      const schedules = new SchedulesRepository(db);
      await schedules.insert(schedule);
      assert.deepEqual(await schedules.get('s1', all), schedule);
      const changed = {
        ...schedule,
        enabled: false,
        nextRunAt: null,
        spec: { ...schedule.spec, ready: 'x' },
      };
      assert.equal(await schedules.update(changed), true);
      assert.deepEqual(await schedules.list(all), [changed]);
      await schedules.update(schedule);
      const due = '2026-01-02T02:00:00.000Z';
      const fire = { dueAt: due, firedAt: due, trigger: 'cron' as const };
      assert.equal(await schedules.claimFire('s1', fire), true);
      assert.equal(await schedules.claimFire('s1', { ...fire, trigger: 'catch-up' }), false);
      await schedules.settleFire('s1', due, 'skipped', null, 'busy');
      assert.deepEqual(await schedules.fires('s1', { limit: 10, offset: 0 }), [
        { ...fire, outcome: 'skipped', matrixId: null, reason: 'busy' },
      ]);
    });

    it('lists a schedule’s matrices and its finished ones, newest first', async () => {
      await matrix('m1', '2026-01-02T02:00:00.000Z', 's1', [
        {
          image: V1,
          verdicts: [
            ['IMG-GPT', 'PASS'],
            ['IMG-ESP', 'FAIL'],
          ],
        },
        { image: OTHER, verdicts: [['IMG-GPT', 'PASS']] },
      ]);
      await matrix('m2', '2026-01-03T02:00:00.000Z', 's1', [
        {
          image: V2,
          verdicts: [
            ['IMG-GPT', 'FAIL'],
            ['IMG-ESP', 'PASS'],
          ],
        },
      ]);
      await matrix('m3', '2026-01-04T02:00:00.000Z', 's1', [{ image: V2, verdicts: [], done: false }]);
      await matrix('m4', '2026-01-05T02:00:00.000Z', null, [{ image: V1, verdicts: [['IMG-GPT', 'PASS']] }]);
      const matrices = new MatricesRepository(db);
      assert.deepEqual(
        (await matrices.list({ limit: 10 }, all, { scheduleId: 's1' })).map((m) => [m.id, m.scheduleId]),
        [
          ['m3', 's1'],
          ['m2', 's1'],
          ['m1', 's1'],
        ],
      );
      assert.deepEqual(
        (await matrices.finishedOfSchedule('s1', all, 2)).map((m) => m.id),
        ['m2', 'm1'],
      );
      assert.deepEqual(
        (await matrices.finishedOfSchedule('s1', all, 5, '2026-01-03T02:00:00.000Z')).map((m) => m.id),
        ['m1'],
      );
      assert.equal((await matrices.list({ limit: 10 }, all)).length, 4);
    });

    it('reads final clause verdicts across matrices, filtered and limited to the newest matrices', async () => {
      const history = new HistoryRepository(db);
      const gpt = await history.clauseVerdicts({ imageName: 'debian', clause: 'IMG-GPT' }, 50, all);
      assert.deepEqual(
        gpt.map((r) => [r.matrixId, r.imageVersion, r.verdict, r.scheduleId]),
        [
          ['m1', '1', 'PASS', 's1'],
          ['m2', '2', 'FAIL', 's1'],
          ['m4', '1', 'PASS', null],
        ],
      );
      assert.deepEqual(gpt[0].evidence, { clause: 'IMG-GPT' });
      assert.equal(gpt[0].at, '2026-01-02T02:00:30.000Z');
      assert.deepEqual(
        (await history.clauseVerdicts({ imageName: 'debian' }, 2, all)).map((r) => r.matrixId),
        ['m2', 'm2', 'm4'],
      );
      assert.deepEqual(
        (await history.clauseVerdicts({ scheduleId: 's1', targetId: 'static' }, 50, all)).map(
          (r) => r.matrixId,
        ),
        ['m1', 'm1', 'm1', 'm2', 'm2'],
      );
      assert.deepEqual(await history.clauseVerdicts({ matrixIds: ['m3'] }, 1, all), []);
    });

    it('finds the latest verdict per clause for a target and for an image', async () => {
      const history = new HistoryRepository(db);
      const target = await history.latestPerClause({ targetId: 'static' }, all);
      assert.deepEqual(
        target.map((r) => [r.clause, r.matrixId, r.verdict]),
        [
          ['IMG-ESP', 'm2', 'PASS'],
          ['IMG-GPT', 'm4', 'PASS'],
        ],
      );
      const v2 = await history.latestPerClause({ imageSha256: V2.sha256 }, all);
      assert.deepEqual(
        v2.map((r) => [r.clause, r.verdict]),
        [
          ['IMG-ESP', 'PASS'],
          ['IMG-GPT', 'FAIL'],
        ],
      );
      assert.deepEqual(await history.latestPerClause({ targetId: 'nowhere' }, all), []);
    });

    it("keeps another tenant's schedules, matrices, images and targets out of a vendor's history", async () => {
      const schedules = new SchedulesRepository(db);
      const theirs = { ...schedule, id: 's-globex', owner: 'globex', createdAt: '2026-01-06T00:00:00.000Z' };
      await schedules.insert(theirs);
      assert.equal(await schedules.get('s-globex', vendor('acme')), undefined);
      assert.deepEqual(await schedules.get('s-globex', vendor('globex')), theirs);
      assert.deepEqual(
        (await schedules.list(vendor('acme'))).map((s) => s.id),
        ['s1'],
        'public schedules stay visible',
      );
      assert.deepEqual(
        (await schedules.list(vendor('globex'))).map((s) => s.id),
        ['s1', 's-globex'],
      );
      await new TargetsRepository(db).insert(
        { id: 'globex-board', kind: 'static', description: '', arch: ['aarch64'] },
        '2026-01-06T00:00:00.000Z',
        'globex',
      );
      // globex's own matrix on a public image; a public one on globex's image; a public one on its target.
      await matrix(
        'g1',
        '2026-01-06T02:00:00.000Z',
        's-globex',
        [{ image: V2, verdicts: [['IMG-GPT', 'PASS']] }],
        'globex',
      );
      await matrix('g2', '2026-01-07T02:00:00.000Z', null, [
        { image: GLOBEX, verdicts: [['IMG-GPT', 'PASS']] },
      ]);
      await matrix('g3', '2026-01-08T02:00:00.000Z', null, [
        { image: V1, verdicts: [['IMG-ESP', 'FAIL']], target: 'globex-board' },
      ]);
      const history = new HistoryRepository(db);
      const seen = async (caller: Caller) => [
        ...new Set(
          (await history.clauseVerdicts({ imageName: 'debian' }, 50, caller)).map((r) => r.matrixId),
        ),
      ];
      assert.deepEqual(await seen(vendor('acme')), ['m1', 'm2', 'm4']);
      assert.deepEqual(await seen(vendor('globex')), ['m1', 'm2', 'm4', 'g1', 'g2', 'g3']);
      assert.deepEqual(await seen(all), ['m1', 'm2', 'm4', 'g1', 'g2', 'g3']);
      assert.deepEqual(await history.clauseVerdicts({ scheduleId: 's-globex' }, 50, vendor('acme')), []);
      assert.deepEqual(await history.latestPerClause({ imageSha256: GLOBEX.sha256 }, vendor('acme')), []);
      assert.deepEqual(await history.latestPerClause({ targetId: 'globex-board' }, vendor('acme')), []);
      const latest = async (caller: Caller) =>
        (await history.latestPerClause({ imageSha256: V2.sha256 }, caller)).map((r) => [
          r.clause,
          r.matrixId,
        ]);
      assert.deepEqual(await latest(vendor('acme')), [
        ['IMG-ESP', 'm2'],
        ['IMG-GPT', 'm2'],
      ]);
      assert.deepEqual(await latest(vendor('globex')), [
        ['IMG-ESP', 'm2'],
        ['IMG-GPT', 'g1'],
      ]);
      const matrices = new MatricesRepository(db);
      assert.deepEqual(await matrices.finishedOfSchedule('s-globex', vendor('acme'), 5), []);
      assert.deepEqual(
        (await matrices.finishedOfSchedule('s-globex', vendor('globex'), 5)).map((m) => m.id),
        ['g1'],
      );
      assert.deepEqual(await matrices.list({ limit: 10 }, vendor('acme'), { scheduleId: 's-globex' }), []);
    });

    it('deletes a schedule with its fires and keeps its matrices', async () => {
      const schedules = new SchedulesRepository(db);
      assert.equal(await schedules.delete('s1'), true);
      assert.equal(await schedules.delete('s-globex'), true);
      assert.equal(await schedules.delete('s1'), false);
      assert.deepEqual(await schedules.fires('s1', { limit: 10, offset: 0 }), []);
      assert.equal(
        (await new MatricesRepository(db).list({ limit: 10 }, all, { scheduleId: 's1' })).length,
        3,
      );
    });

    it("certifies a target on runs whose image passed its static checks; an image's own record keeps every run", async () => {
      const checked = (passed: boolean) => ({
        imageChecks: { passed, failed: passed ? [] : ['IMG-REMOVABLE-PATH'] },
      });
      await matrix('c1', '2026-01-09T02:00:00.000Z', null, [
        { image: V1, target: 'qemu-cert', verdicts: [['FW-DEFAULT-BOOT', 'PASS']], evidence: checked(true) },
      ]);
      await matrix('c2', '2026-01-10T02:00:00.000Z', null, [
        { image: V2, target: 'qemu-cert', verdicts: [['FW-DEFAULT-BOOT', 'FAIL']], evidence: checked(false) },
        { image: OTHER, target: 'qemu-cert', verdicts: [['FW-UEFI', 'FAIL']], evidence: checked(false) },
      ]);
      const history = new HistoryRepository(db);
      assert.deepEqual(
        (await history.latestPerClause({ targetId: 'qemu-cert' }, all)).map((r) => [
          r.clause,
          r.matrixId,
          r.verdict,
        ]),
        [['FW-DEFAULT-BOOT', 'c1', 'PASS']],
        'the newer FAIL on an image that failed its static checks does not count for the target',
      );
      assert.deepEqual(
        (await history.latestPerClause({ imageSha256: V2.sha256 }, all))
          .filter((r) => r.clause === 'FW-DEFAULT-BOOT')
          .map((r) => [r.matrixId, r.verdict]),
        [['c2', 'FAIL']],
      );
    });
  });
}
