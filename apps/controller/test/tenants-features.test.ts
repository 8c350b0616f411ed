import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  triagedCertificationSchema,
  triagedRegressionsSchema,
  type Certification,
  type HistorySeries,
  type ImageResource,
  type MatrixView,
  type ScheduleView,
  type TokenCreated,
  type Verdict,
} from '@vmfarm/protocol';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { ADMIN_TOKEN, authed, registerAgent } from './helpers/auth';
import { STORES, tempDir } from './helpers/env';
import { FakeQueue, FakeScheduler, LocalEventBus } from './helpers/fakes';
import { matrixOf, openStream } from './helpers/sse';

type Who = 'acme' | 'globex' | 'viewer' | 'agent';

/**
 * Schedules, history, regressions, certification and events seen by two vendors, a viewer and an
 * agent: a vendor neither sees nor touches another tenant's. No Redis: the run queue, the job
 * schedulers and the event bus stay in process; the schedules' cron fires are called by hand.
 */
for (const store of STORES) {
  describe(`schedules, history, certification and events per tenant (${store.name})`, () => {
    let farm: RunningController;
    let dir: string;
    let drop: () => Promise<void>;
    const scheduler = new FakeScheduler();
    const tokens = {} as Record<Who, TokenCreated>;
    const admin = () => authed(farm.url, ADMIN_TOKEN);
    const as = (who: Who) => authed(farm.url, tokens[who].token);
    const upload = async (who: Who | 'admin', fill: number, query: string) =>
      (
        await (who === 'admin' ? admin() : as(who))
          .put(`/api/images?arch=aarch64&${query}`)
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(2048, fill))
          .expect(201)
      ).body as ImageResource;
    const schedule = async (who: Who | 'admin', name: string) =>
      (
        await (who === 'admin' ? admin() : as(who))
          .post('/api/schedules')
          .send({
            name,
            cron: '0 2 * * *',
            images: { tags: ['nightly'] },
            targets: ['static'],
            suites: ['static'],
          })
          .expect(201)
      ).body as ScheduleView;

    /** What an agent does: every run of the matrix started and reported with these verdicts. */
    async function complete(matrix: MatrixView, verdicts: Record<string, Verdict>) {
      const agentId = await registerAgent(as('agent'));
      for (const cell of matrix.cells) {
        await as('agent').post(`/api/runs/${cell.runId}/attempts/1/start`).send({ agentId }).expect(200);
        await as('agent')
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
              evidence: {},
            })),
          })
          .expect(200);
      }
    }

    let acmeImage: ImageResource;
    let globexImage: ImageResource;
    let publicImage: ImageResource;
    let acmeSchedule: ScheduleView;
    let globexSchedule: ScheduleView;
    let publicSchedule: ScheduleView;
    let first: MatrixView;
    let second: MatrixView;

    before(async () => {
      dir = tempDir(`tenants-features-${store.name}`);
      const db = await store.create(dir);
      drop = db.drop;
      farm = await bootstrap(
        resolveConfig({
          redisUrl: 'redis://127.0.0.1:1',
          dataDir: dir,
          databaseUrl: db.databaseUrl,
          port: 0,
          adminToken: ADMIN_TOKEN,
        }),
        { runQueue: new FakeQueue(), scheduler, eventBus: new LocalEventBus() },
      );
      const make = async (body: object) =>
        (await admin().post('/api/tokens').send(body).expect(201)).body as TokenCreated;
      tokens.acme = await make({ name: 'acme ci', role: 'vendor', tenant: 'acme' });
      tokens.globex = await make({ name: 'globex ci', role: 'vendor', tenant: 'globex' });
      tokens.viewer = await make({ name: 'auditor', role: 'viewer' });
      tokens.agent = await make({ name: 'rack', role: 'agent' });
      // Tenancy is the point here, not retry before regression (triage-flow.test.ts): none.
      await admin().put('/api/policies/farm').send({ retries: 0 }).expect(200);
    });
    after(async () => {
      await farm.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('shows image owners and lets only the owner (or an admin) change an image', async () => {
      acmeImage = await upload('acme', 1, 'name=acme-os&version=1&tags=nightly');
      globexImage = await upload('globex', 2, 'name=globex-os&tags=nightly');
      publicImage = await upload('admin', 3, 'name=public-os&tags=nightly');
      assert.deepEqual([acmeImage.owner, globexImage.owner, publicImage.owner], ['acme', 'globex', null]);
      const patch = (who: Who | 'admin', sha: string) =>
        (who === 'admin' ? admin() : as(who)).patch(`/api/images/${sha}`).send({ version: '2' });
      await patch('globex', acmeImage.sha256).expect(404);
      await patch('acme', publicImage.sha256).expect(403);
      await patch('viewer', acmeImage.sha256).expect(403);
      await patch('agent', acmeImage.sha256).expect(403);
      assert.equal((await as('acme').get(`/api/images/${acmeImage.sha256}`).expect(200)).body.version, '1');
      assert.equal((await patch('acme', acmeImage.sha256).expect(200)).body.version, '2');
      assert.equal((await patch('admin', globexImage.sha256).expect(200)).body.owner, 'globex');
    });

    it("keeps a vendor out of another tenant's schedules: 404 to read, change, run or delete them", async () => {
      acmeSchedule = await schedule('acme', 'acme nightly');
      globexSchedule = await schedule('globex', 'globex nightly');
      publicSchedule = await schedule('admin', 'public nightly');
      assert.deepEqual(
        [acmeSchedule.owner, globexSchedule.owner, publicSchedule.owner],
        ['acme', 'globex', null],
      );
      const names = async (who: Who) =>
        ((await as(who).get('/api/schedules').expect(200)).body as ScheduleView[]).map((s) => s.name).sort();
      assert.deepEqual(await names('acme'), ['acme nightly', 'public nightly']);
      assert.deepEqual(await names('globex'), ['globex nightly', 'public nightly']);
      assert.deepEqual(await names('viewer'), ['acme nightly', 'globex nightly', 'public nightly']);

      const id = acmeSchedule.id;
      const missing = await as('globex').get(`/api/schedules/${id}`).expect(404);
      assert.equal(missing.body.message, `no schedule ${id}`, 'the same answer as for no schedule at all');
      await as('globex').patch(`/api/schedules/${id}`).send({ enabled: false }).expect(404);
      await as('globex').post(`/api/schedules/${id}/run`).expect(404);
      await as('globex').get(`/api/schedules/${id}/fires`).expect(404);
      await as('globex').get(`/api/schedules/${id}/regressions`).expect(404);
      await as('globex').delete(`/api/schedules/${id}`).expect(404);
      assert.equal((await as('acme').get(`/api/schedules/${id}`).expect(200)).body.enabled, true);

      // A public schedule is read by all, changed and run by an admin only.
      await as('acme').get(`/api/schedules/${publicSchedule.id}`).expect(200);
      await as('acme').patch(`/api/schedules/${publicSchedule.id}`).send({ enabled: false }).expect(403);
      await as('acme').post(`/api/schedules/${publicSchedule.id}/run`).expect(403);
      await as('acme').delete(`/api/schedules/${publicSchedule.id}`).expect(403);

      // Viewers read, agents do not even read.
      await as('viewer').get(`/api/schedules/${id}`).expect(200);
      await as('viewer').get(`/api/schedules/${id}/fires`).expect(200);
      await as('viewer').patch(`/api/schedules/${id}`).send({ enabled: false }).expect(403);
      await as('viewer').post(`/api/schedules/${id}/run`).expect(403);
      await as('viewer').delete(`/api/schedules/${id}`).expect(403);
      await as('viewer')
        .post('/api/schedules')
        .send({ name: 'x', cron: '0 2 * * *', images: { tags: ['t'] }, targets: ['all'], suites: ['all'] })
        .expect(403);
      await as('agent').get('/api/schedules').expect(403);
      await as('agent').get(`/api/schedules/${id}`).expect(403);
    });

    it("refuses a schedule naming another tenant's image or target, as unknown", async () => {
      await as('globex').post('/api/targets').send({ id: 'globex-board', extends: 'static' }).expect(201);
      const refused = await as('acme')
        .post('/api/schedules')
        .send({
          name: 'x',
          cron: '0 2 * * *',
          images: { sha256: [globexImage.sha256] },
          targets: ['globex-board'],
          suites: ['static'],
        })
        .expect(400);
      assert.deepEqual(
        refused.body.errors.map((e: { path: string }) => e.path),
        ['images.sha256.0', 'targets.0'],
      );
    });

    it("fires a vendor's schedule as that vendor: its images and public ones, a matrix it owns", async () => {
      first = (await as('acme').post(`/api/schedules/${acmeSchedule.id}/run`).expect(201)).body as MatrixView;
      assert.deepEqual(
        [...first.request.images].sort(),
        [acmeImage.sha256, publicImage.sha256].sort(),
        "globex's image carries the tag too, but acme does not see it",
      );
      await as('globex').get(`/api/matrices/${first.id}`).expect(404);
      await complete(first, { 'IMG-GPT': 'PASS', 'IMG-ESP': 'PASS' });

      // A cron fire, which no request makes: still acme's.
      await scheduler.handler!(acmeSchedule.id, new Date('2026-01-01T02:00:00.000Z'));
      const fires = (await as('acme').get(`/api/schedules/${acmeSchedule.id}/fires`).expect(200)).body as {
        trigger: string;
        outcome: string;
        matrixId: string;
      }[];
      const cron = fires.find((f) => f.trigger === 'cron');
      assert.equal(cron?.outcome, 'started');
      second = (await as('acme').get(`/api/matrices/${cron!.matrixId}`).expect(200)).body as MatrixView;
      assert.equal(second.scheduleId, acmeSchedule.id);
      await as('globex').get(`/api/matrices/${second.id}`).expect(404);
      assert.deepEqual(
        ((await as('globex').get(`/api/matrices?schedule=${acmeSchedule.id}`).expect(200)).body as []).length,
        0,
      );
      assert.equal(
        ((await as('acme').get(`/api/matrices?schedule=${acmeSchedule.id}`).expect(200)).body as []).length,
        2,
      );
      await complete(second, { 'IMG-GPT': 'FAIL', 'IMG-ESP': 'PASS' });
    });

    it("keeps another tenant's runs out of a vendor's regressions and history", async () => {
      const r = triagedRegressionsSchema.parse(
        (await as('acme').get(`/api/schedules/${acmeSchedule.id}/regressions`).expect(200)).body,
      );
      assert.deepEqual(r.regressions.map((x) => [x.imageName, x.clause]).sort(), [
        ['acme-os', 'IMG-GPT'],
        ['public-os', 'IMG-GPT'],
      ]);
      assert.deepEqual((await as('viewer').get(`/api/schedules/${acmeSchedule.id}/regressions`)).body, r);
      await as('globex').get(`/api/matrices/${second.id}/regressions`).expect(404);
      // Its own matrix against acme's: the other one does not exist for globex.
      const own = (await as('globex').post(`/api/schedules/${globexSchedule.id}/run`).expect(201))
        .body as MatrixView;
      await as('globex').get(`/api/matrices/${own.id}/regressions?against=${second.id}`).expect(404);
      await as('acme').get(`/api/matrices/${second.id}/regressions?against=${first.id}`).expect(200);

      const history = async (who: Who, query: string) =>
        (await as(who).get(`/api/history?${query}`).expect(200)).body as HistorySeries[];
      // public-os is public, but the runs of it were acme's.
      assert.deepEqual(await history('globex', 'imageName=public-os'), []);
      assert.deepEqual(await history('globex', 'imageName=acme-os'), []);
      const seen = await history('acme', 'imageName=public-os&clause=IMG-GPT');
      assert.deepEqual(
        seen[0].points.map((p) => p.verdict),
        ['PASS', 'FAIL'],
      );
      assert.deepEqual(await history('viewer', 'imageName=public-os&clause=IMG-GPT'), seen);
      await as('globex').get(`/api/history/trend?scheduleId=${acmeSchedule.id}`).expect(404);
      assert.equal(
        ((await as('acme').get(`/api/history/trend?scheduleId=${acmeSchedule.id}`).expect(200)).body as [])
          .length,
        2,
      );
      await as('agent').get('/api/history').expect(403);
      await as('agent').get(`/api/schedules/${acmeSchedule.id}/regressions`).expect(403);
    });

    it("certifies from a vendor's own and public runs only", async () => {
      const certify = async (who: Who, path: string) =>
        triagedCertificationSchema.parse((await as(who).get(`/api/certification/${path}`).expect(200)).body);
      const gpt = (c: Certification) => c.clauses.find((x) => x.clause === 'IMG-GPT')?.verdict;
      await as('globex').get(`/api/certification/images/${acmeImage.sha256}`).expect(404);
      assert.equal(gpt(await certify('acme', `images/${acmeImage.sha256}`)), 'FAIL');
      assert.equal(gpt(await certify('acme', `images/${publicImage.sha256}`)), 'FAIL');
      assert.equal(gpt(await certify('globex', `images/${publicImage.sha256}`)), 'NOT-RUN');
      assert.equal(gpt(await certify('viewer', `images/${publicImage.sha256}`)), 'FAIL');
      assert.equal(gpt(await certify('acme', 'targets/static')), 'FAIL');
      assert.equal(gpt(await certify('globex', 'targets/static')), 'NOT-RUN');
      await as('acme').get('/api/certification/targets/globex-board').expect(404);
      await as('agent').get('/api/certification/targets/static').expect(403);
    });

    it('streams a vendor only the events of matrices it may see', async () => {
      await as('globex').get(`/api/events?matrix=${second.id}`).expect(404);
      await as('agent').get('/api/events').expect(403);
      const acme = await openStream(`${farm.url}/api/events`, tokens.acme.token);
      const globex = await openStream(`${farm.url}/api/events`, tokens.globex.token);
      const viewer = await openStream(`${farm.url}/api/events`, tokens.viewer.token);
      try {
        const third = (await as('acme').post(`/api/schedules/${acmeSchedule.id}/run`).expect(201))
          .body as MatrixView;
        await complete(third, { 'IMG-GPT': 'PASS' });
        const done = (e: { event: string; data: unknown }, id: string) =>
          e.event === 'matrix' && matrixOf(e) === id && (e.data as { state: string }).state === 'done';
        await acme.until((e) => done(e, third.id));
        await viewer.until((e) => done(e, third.id));
        // Each event is offered to every stream when published: globex's stream was offered
        // acme's matrix events above and must have let none through.
        const mine = (
          await as('globex')
            .post('/api/matrices')
            .send({ images: [globexImage.sha256], targets: ['static'], suites: ['static'] })
            .expect(201)
        ).body as MatrixView;
        await complete(mine, { 'IMG-GPT': 'PASS' });
        await globex.until((e) => done(e, mine.id));
        await viewer.until((e) => done(e, mine.id));
        assert.ok(globex.events.length > 0);
        assert.ok(globex.events.every((e) => matrixOf(e) === mine.id));
        assert.ok(!acme.events.some((e) => matrixOf(e) === mine.id));
      } finally {
        for (const s of [acme, globex, viewer]) s.res.destroy();
      }
    });
  });
}
