import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  certificationSchema,
  historySeriesSchema,
  regressionsSchema,
  scheduleFireSchema,
  scheduleViewSchema,
  trendPointSchema,
  triagedRegressionsSchema,
  type MatrixView,
  type Verdict,
} from '@vmfarm/protocol';
import { createApp } from '../src/app';
import { Caller } from '../src/auth/caller';
import { TriageService } from '../src/triage/triage.service';
import { resolveConfig, type ControllerConfig } from '../src/config';
import { SchedulesService } from '../src/schedules/schedules.service';
import { databaseTarget, openDatabase } from '../src/store/database';
import { ADMIN_TOKEN, authed, registerAgent } from './helpers/auth';
import { eventually, requireEnv, tempDir, uniqueName } from './helpers/env';

/** Schedules, history, regressions and certification over HTTP, on SQLite with a real Redis. */
describe('schedules and history (SQLite, real Redis)', () => {
  let app: NestExpressApplication;
  let config: ControllerConfig;
  const dir = tempDir('schedules');
  const http = () => authed(app.getHttpServer(), ADMIN_TOKEN);

  before(async () => {
    config = resolveConfig({
      redisUrl: requireEnv('REDIS_URL'),
      dataDir: dir,
      queuePrefix: uniqueName('sched'),
      adminToken: ADMIN_TOKEN,
      // A per-second cron shows BullMQ firing within the test; the default minimum is an hour.
      limits: { scheduleIntervalSeconds: 0 },
    });
    app = await createApp(config);
  });
  after(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const upload = async (fill: number, query: string) =>
    (
      await http()
        .put(`/api/images?arch=aarch64&${query}`)
        .set('content-type', 'application/octet-stream')
        .send(Buffer.alloc(1024, fill))
        .expect(201)
    ).body as { sha256: string; version: string | null; tags: string[] };

  /**
   * What an agent would do: start attempt 1 of every run, report one verdict per clause given; the
   * same for the retries the farm asks for before it calls a regression, until the matrix is
   * settled. Returns the matrix as it ends.
   */
  async function complete(matrix: MatrixView, verdicts: Record<string, Verdict>): Promise<MatrixView> {
    const settled = async () =>
      (await app.get(TriageService).matrixTriage(matrix.id, Caller.system())).settlement?.state === 'settled';
    for (;;) {
      await report(
        matrix.cells.filter((c) => c.state !== 'done'),
        verdicts,
      );
      const next = await eventually(async () =>
        (await settled()) ? 'settled' : (await pending(matrix.id)).length > 0 ? 'retries' : undefined,
      );
      if (next === 'settled') break;
      matrix = (await http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
    }
    return (await http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
  }

  const pending = async (id: string) =>
    ((await http().get(`/api/matrices/${id}`).expect(200)).body as MatrixView).cells.filter(
      (c) => c.state !== 'done',
    );

  async function report(cells: MatrixView['cells'], verdicts: Record<string, Verdict>) {
    const agentId = await registerAgent(http());
    for (const cell of cells) {
      await http().post(`/api/runs/${cell.runId}/attempts/1/start`).send({ agentId }).expect(200);
      await http()
        .post(`/api/runs/${cell.runId}/attempts/1/result`)
        .send({
          agentId,
          durationMs: 1,
          verdicts: Object.entries(verdicts).map(([clause, verdict]) => ({
            suite: 'static',
            clause,
            level: 'MUST',
            verdict,
            message: `${clause} ${verdict}`,
            evidence: { seen: clause },
          })),
        })
        .expect(200);
    }
  }

  let scheduleId: string;
  let v2: string;
  let v3: string;
  let first: MatrixView;
  let second: MatrixView;

  it('tags and versions images at upload and by PATCH', async () => {
    await upload(1, 'name=debian&version=1&tags=nightly');
    v2 = (await upload(2, 'name=debian&version=2&tags=nightly,arm')).sha256;
    const other = await upload(3, 'name=fedora');
    assert.deepEqual([other.version, other.tags], [null, []]);
    const patched = await http()
      .patch(`/api/images/${other.sha256}`)
      .send({ version: '41', tags: ['arm'] })
      .expect(200);
    assert.deepEqual([patched.body.name, patched.body.version, patched.body.tags], ['fedora', '41', ['arm']]);
    const bad = await http()
      .patch(`/api/images/${other.sha256}`)
      .send({ tags: ['no spaces'], x: 1 })
      .expect(400);
    assert.ok(bad.body.errors.length >= 1);
    await http().patch(`/api/images/${other.sha256}`).send({}).expect(400);
    await http()
      .patch(`/api/images/${'f'.repeat(64)}`)
      .send({ name: 'x' })
      .expect(404);
    await http().put('/api/images?tags=bad%20tag').send(Buffer.alloc(512)).expect(400);
  });

  it('refuses a schedule with a bad cron, zone, target or suite, listing every problem', async () => {
    const res = await http()
      .post('/api/schedules')
      .send({
        name: 'bad',
        cron: '0 2 * * *',
        timezone: 'Mars/Olympus',
        images: { tags: ['nightly'] },
        targets: ['ghost'],
        suites: ['nope'],
      })
      .expect(400);
    assert.deepEqual(
      res.body.errors.map((e: { path: string }) => e.path),
      ['timezone', 'targets.0', 'suites.0'],
    );
    const cron = await http()
      .post('/api/schedules')
      .send({
        name: 'bad',
        cron: 'every day',
        images: { sha256: [v2] },
        targets: ['static'],
        suites: ['all'],
      })
      .expect(400);
    assert.deepEqual(
      cron.body.errors.map((e: { path: string }) => e.path),
      ['cron'],
    );
    await http()
      .post('/api/schedules')
      .send({ name: 'x', cron: '* * * * *', images: { tags: [] }, targets: ['static'], suites: ['all'] })
      .expect(400);
    assert.deepEqual((await http().get('/api/schedules').expect(200)).body, []);
  });

  it('creates a schedule and runs it now on the newest version of each tagged image name', async () => {
    const created = await http()
      .post('/api/schedules')
      .send({
        name: 'nightly',
        cron: '0 2 * * *',
        timezone: 'Europe/Paris',
        images: { tags: ['nightly'] },
        targets: ['static'],
        suites: ['static'],
      })
      .expect(201);
    const view = scheduleViewSchema.parse(created.body);
    scheduleId = view.id;
    assert.equal(view.enabled, true);
    assert.ok(view.nextRunAt && Date.parse(view.nextRunAt) > Date.now());
    assert.equal(view.lastMatrixId, null);

    first = (await http().post(`/api/schedules/${scheduleId}/run`).expect(201)).body as MatrixView;
    assert.equal(first.scheduleId, scheduleId);
    assert.deepEqual(first.request.images, [v2], 'debian version 2 only');
    assert.equal((await http().get(`/api/schedules/${scheduleId}`).expect(200)).body.lastMatrixId, first.id);
  });

  it('refuses to run now, and skips a cron fire, while the previous matrix still runs', async () => {
    const busy = await http().post(`/api/schedules/${scheduleId}/run`).expect(409);
    assert.match(busy.body.message, /still running/);
    await app.get(SchedulesService).fire(scheduleId, new Date('2026-01-01T01:00:00.000Z'), 'cron');
    const fires = (await http().get(`/api/schedules/${scheduleId}/fires`).expect(200)).body.map(
      (f: unknown) => scheduleFireSchema.parse(f),
    );
    assert.deepEqual(
      fires.map((f: { trigger: string; outcome: string; matrixId: string | null }) => [
        f.trigger,
        f.outcome,
        f.matrixId,
      ]),
      [
        ['manual', 'started', first.id],
        ['cron', 'skipped', null],
      ],
    );
  });

  it('lists the regression of the latest run against the one before, by image name across versions', async () => {
    await complete(first, { 'IMG-GPT': 'PASS', 'IMG-ESP': 'FAIL' });
    const none = regressionsSchema.parse(
      (await http().get(`/api/schedules/${scheduleId}/regressions`).expect(200)).body,
    );
    assert.deepEqual([none.latest?.matrixId, none.previous, none.regressions], [first.id, null, []]);

    v3 = (await upload(4, 'name=debian&version=3&tags=nightly')).sha256;
    second = (await http().post(`/api/schedules/${scheduleId}/run`).expect(201)).body as MatrixView;
    assert.deepEqual(second.request.images, [v3]);
    second = await complete(second, { 'IMG-GPT': 'FAIL', 'IMG-ESP': 'PASS' });
    // The PASS → FAIL cell was re-run once before the regression was called; it failed again.
    const retry = second.cells.find((c) => c.runId !== second.cells[0].runId)!;
    assert.equal(second.cells.length, 2);
    assert.equal(retry.verdict, 'FAIL');

    const r = triagedRegressionsSchema.parse(
      (await http().get(`/api/schedules/${scheduleId}/regressions`).expect(200)).body,
    );
    assert.deepEqual([r.latest?.matrixId, r.previous?.matrixId], [second.id, first.id]);
    assert.deepEqual([r.flaky, r.known, r.errors], [[], [], []], 'it failed again when re-run: not flaky');
    assert.deepEqual(
      r.regressions.map((x) => [x.imageName, x.targetId, x.clause, x.before, x.after, x.runId]),
      [['debian', 'static', 'IMG-GPT', 'PASS', 'FAIL', retry.runId]],
    );
    assert.deepEqual(
      r.fixes.map((x) => x.clause),
      ['IMG-ESP'],
    );
    assert.deepEqual((await http().get(`/api/matrices/${second.id}/regressions`).expect(200)).body, r);
    const self = (await http().get(`/api/matrices/${second.id}/regressions?against=${second.id}`).expect(200))
      .body;
    assert.deepEqual([self.regressions, self.fixes], [[], []]);
    await http().get(`/api/matrices/${second.id}/regressions?against=nope`).expect(404);
    assert.deepEqual(
      (await http().get(`/api/matrices?schedule=${scheduleId}`).expect(200)).body.map(
        (m: MatrixView) => m.id,
      ),
      [second.id, first.id],
    );
  });

  it('draws history per image name, trend per matrix, and certifies a target and an image', async () => {
    const series = (await http().get('/api/history?imageName=debian&clause=IMG-GPT').expect(200)).body.map(
      (s: unknown) => historySeriesSchema.parse(s),
    );
    assert.equal(series.length, 1);
    assert.deepEqual(
      series[0].points.map((p: { imageVersion: string; verdict: string }) => [p.imageVersion, p.verdict]),
      [
        ['2', 'PASS'],
        ['3', 'FAIL'],
      ],
    );
    assert.equal(series[0].firstFailure, series[0].points[1].at);
    assert.equal(series[0].lastPass, series[0].points[0].at);
    const trend = (await http().get(`/api/history/trend?scheduleId=${scheduleId}`).expect(200)).body.map(
      (p: unknown) => trendPointSchema.parse(p),
    );
    assert.deepEqual(
      trend.map((p: { matrixId: string; passRate: number }) => [p.matrixId, p.passRate]),
      [
        [first.id, 0.5],
        [second.id, 0.5],
      ],
    );
    await http().get('/api/history?targetId=Bad!').expect(400);

    const target = certificationSchema.parse(
      (await http().get('/api/certification/targets/static').expect(200)).body,
    );
    const byClause = new Map(target.clauses.map((c) => [c.clause, c]));
    assert.equal(byClause.get('IMG-GPT')?.verdict, 'FAIL');
    assert.deepEqual(byClause.get('IMG-GPT')?.evidence, { seen: 'IMG-GPT' });
    assert.equal(byClause.get('IMG-GPT')?.imageSha256, v3);
    assert.equal(byClause.get('IMG-EFI-APP')?.verdict, 'NOT-RUN', 'the static suite covers it');
    assert.equal(byClause.get('FW-UEFI')?.verdict, 'NOT-COVERED', 'no suite runs on a static target for it');
    assert.equal(target.counts.FAIL, 1);
    const image = certificationSchema.parse(
      (await http().get(`/api/certification/images/${v2}`).expect(200)).body,
    );
    assert.deepEqual([image.name, image.version], ['debian', '2']);
    assert.equal(image.clauses.find((c) => c.clause === 'IMG-GPT')?.verdict, 'PASS');
    await http().get('/api/certification/targets/ghost').expect(404);
    await http()
      .get(`/api/certification/images/${'e'.repeat(64)}`)
      .expect(404);
  });

  it('fires on its cron through BullMQ, then stops when disabled', async () => {
    const every = await http()
      .post('/api/schedules')
      .send({
        name: 'secondly',
        cron: '* * * * * *',
        images: { sha256: [v2] },
        targets: ['static'],
        suites: ['all'],
      })
      .expect(201);
    const id: string = every.body.id;
    const fired = await eventually(async () => {
      const fires = (await http().get(`/api/schedules/${id}/fires`).expect(200)).body as {
        trigger: string;
        outcome: string;
        matrixId: string | null;
      }[];
      return fires.find((f) => f.trigger === 'cron' && f.outcome === 'started');
    });
    assert.ok(fired.matrixId);
    const disabled = (await http().patch(`/api/schedules/${id}`).send({ enabled: false }).expect(200)).body;
    assert.deepEqual([disabled.enabled, disabled.nextRunAt], [false, null]);
    await http().patch(`/api/schedules/${id}`).send({ cron: 'nope' }).expect(400);
    await http().delete(`/api/schedules/${id}`).expect(204);
    await http().get(`/api/schedules/${id}`).expect(404);
    await http().delete(`/api/schedules/${id}`).expect(404);
  });

  it('catches up once at start for fires missed while no controller ran', async () => {
    await app.close();
    const db = await openDatabase(databaseTarget(undefined, dir));
    const missed = '2026-01-01T02:00:00.000Z';
    await db.updateTable('schedules').set({ next_run_at: missed }).where('id', '=', scheduleId).execute();
    await db.destroy();
    app = await createApp(config);
    const fires = (await http().get(`/api/schedules/${scheduleId}/fires`).expect(200)).body as {
      dueAt: string;
      trigger: string;
      outcome: string;
      matrixId: string | null;
    }[];
    const catchUp = fires.filter((f) => f.trigger === 'catch-up');
    assert.deepEqual(
      catchUp.map((f) => [f.dueAt, f.outcome]),
      [[missed, 'started']],
    );
    const view = (await http().get(`/api/schedules/${scheduleId}`).expect(200)).body;
    assert.equal(view.lastMatrixId, catchUp[0].matrixId);
    assert.ok(Date.parse(view.nextRunAt) > Date.now());
    assert.ok(fs.existsSync(path.join(dir, 'vmfarm.sqlite')));
  });
});
