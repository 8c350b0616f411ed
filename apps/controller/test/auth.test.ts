import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { API, type MatrixView, type RouteSpec, type TokenCreated } from '@vmfarm/protocol';
import request from 'supertest';
import { createApp } from '../src/app';
import { tokenHash } from '../src/auth/secrets';
import { resolveConfig } from '../src/config';
import type { Db } from '../src/store/database';
import { DB } from '../src/store/tokens';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { STORES, tempDir } from './helpers/env';
import { FakeQueue, FakeScheduler, LocalEventBus } from './helpers/fakes';

const ROUTES: RouteSpec[] = Object.values(API);

/** A concrete URL for a route path: every parameter filled with a valid-looking value. */
const concrete = (path: string) =>
  path
    .replace(':sha256', 'a'.repeat(64))
    .replace(/:(n|attempt)\b/g, '1')
    .replace(':name', 'serial.log')
    .replace(':id', 'x');

const bytes = (seed: number) => Buffer.alloc(4096, seed);
const shaOf = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const store of STORES) {
  describe(`authentication and tenants over HTTP (${store.name})`, () => {
    let app: NestExpressApplication;
    let dir: string;
    let drop: () => Promise<void>;
    const tokens: Record<'acme' | 'globex' | 'viewer' | 'agent', TokenCreated> = {} as never;
    const admin = () => authed(app.getHttpServer(), ADMIN_TOKEN);
    const as = (who: keyof typeof tokens) => authed(app.getHttpServer(), tokens[who].token);
    const anonymous = () => request(app.getHttpServer());
    const upload = (who: keyof typeof tokens, body: Buffer, name: string) =>
      as(who).put(`/api/images?name=${name}`).set('content-type', 'application/octet-stream').send(body);

    before(async () => {
      dir = tempDir(`auth-${store.name}`);
      const db = await store.create(dir);
      drop = db.drop;
      app = await createApp(
        resolveConfig({
          redisUrl: 'redis://127.0.0.1:1',
          dataDir: dir,
          databaseUrl: db.databaseUrl,
          adminToken: ADMIN_TOKEN,
        }),
        // No Redis here: schedules and events stay in process.
        { runQueue: new FakeQueue(), scheduler: new FakeScheduler(), eventBus: new LocalEventBus() },
      );
      const make = async (body: object) =>
        (await admin().post('/api/tokens').send(body).expect(201)).body as TokenCreated;
      tokens.acme = await make({ name: 'acme ci', role: 'vendor', tenant: 'acme' });
      tokens.globex = await make({ name: 'globex ci', role: 'vendor', tenant: 'globex' });
      tokens.viewer = await make({ name: 'auditor', role: 'viewer' });
      tokens.agent = await make({ name: 'rack 1', role: 'agent' });
    });
    after(async () => {
      await app.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers 401 with WWW-Authenticate on every route but the public ones', async () => {
      for (const r of ROUTES) {
        const res = await anonymous()[r.method](concrete(r.path));
        const route = `${r.method} ${r.path}`;
        if (r.auth === 'public') {
          assert.notEqual(res.status, 401, route);
          continue;
        }
        assert.equal(res.status, 401, route);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="vmfarm"', route);
        assert.match(res.body.message, /^no token: /, route);
      }
      const bad = await anonymous().get('/api/images').set('authorization', 'Bearer vmf_nope').expect(401);
      assert.equal(bad.headers['www-authenticate'], 'Bearer realm="vmfarm", error="invalid_token"');
      assert.equal(bad.body.message, 'invalid or revoked token');
      await anonymous().get('/api/images').set('authorization', `Basic ${ADMIN_TOKEN}`).expect(401);
    });

    it('documents both credentials in OpenAPI, and the public routes as needing none', async () => {
      const doc = (await anonymous().get('/api/openapi.json').expect(200)).body;
      assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearer', 'cookie']);
      assert.deepEqual(doc.security, [{ bearer: [] }, { cookie: [] }]);
      assert.deepEqual(doc.paths['/api/health'].get.security, []);
      assert.ok(doc.paths['/api/images'].get.responses['401']);
    });

    it('creates tokens once-shown and keeps only their sha256', async () => {
      const db = app.get<Db>(DB);
      const rows = await db.selectFrom('tokens').selectAll().execute();
      assert.equal(rows.length, 5, 'the admin token and the four made here');
      for (const t of Object.values(tokens)) {
        const row = rows.find((r) => r.id === t.id);
        assert.equal(row?.token_sha256, tokenHash(t.token));
        assert.ok(!JSON.stringify(rows).includes(t.token), 'no column holds the token');
      }
      const list = (await admin().get('/api/tokens').expect(200)).body as Record<string, unknown>[];
      assert.equal(list.length, 5);
      assert.ok(list.every((t) => !('token' in t) && !JSON.stringify(t).includes('vmf_')));
      assert.deepEqual(
        list.find((t) => t.id === tokens.acme.id),
        { ...list.find((t) => t.id === tokens.acme.id), name: 'acme ci', role: 'vendor', tenant: 'acme' },
      );
      const bad = await admin().post('/api/tokens').send({ name: 'x', role: 'vendor' }).expect(400);
      assert.deepEqual(
        bad.body.errors.map((e: { path: string }) => e.path),
        ['body.tenant'],
      );
      await admin().post('/api/tokens').send({ name: 'x', role: 'viewer', tenant: 'acme' }).expect(400);
      await admin().post('/api/tokens').send({ name: 'x', role: 'root' }).expect(400);
      await admin()
        .post('/api/tokens')
        .send({ name: 'x', role: 'vendor', tenant: 'Not A Tenant' })
        .expect(400);
    });

    it('tells each caller who it is', async () => {
      assert.deepEqual((await as('acme').get('/api/me').expect(200)).body, {
        id: tokens.acme.id,
        name: 'acme ci',
        role: 'vendor',
        tenant: 'acme',
      });
      assert.equal((await as('agent').get('/api/me').expect(200)).body.role, 'agent');
      assert.equal((await admin().get('/api/me').expect(200)).body.role, 'admin');
    });

    it("keeps a vendor out of another tenant's images: 404 to read, download or use them", async () => {
      const theirs = bytes(1);
      const sha = shaOf(theirs);
      assert.equal((await upload('globex', theirs, 'globex-os').expect(201)).body.sha256, sha);
      await upload('acme', bytes(2), 'acme-os').expect(201);
      await admin()
        .put('/api/images?name=public-os')
        .set('content-type', 'application/octet-stream')
        .send(bytes(3))
        .expect(201);

      const names = async (who: 'acme' | 'globex' | 'viewer') =>
        ((await as(who).get('/api/images').expect(200)).body as { name: string }[]).map((i) => i.name).sort();
      assert.deepEqual(await names('acme'), ['acme-os', 'public-os']);
      assert.deepEqual(await names('globex'), ['globex-os', 'public-os']);
      assert.deepEqual(await names('viewer'), ['acme-os', 'globex-os', 'public-os']);

      const missing = await as('acme').get(`/api/images/${sha}`).expect(404);
      assert.equal(missing.body.message, `no image ${sha}`, 'the same answer as for no image at all');
      await as('acme').get(`/api/images/${sha}/content`).expect(404);
      const refused = await as('acme')
        .post('/api/matrices')
        .send({ images: [sha], targets: ['static'], suites: ['static'] })
        .expect(400);
      assert.deepEqual(
        refused.body.errors.map((e: { path: string }) => e.path),
        ['images.0'],
      );
      await as('globex').get(`/api/images/${sha}/content`).expect(200);
      await as('agent').get(`/api/images/${sha}/content`).expect(200);
    });

    it("keeps a vendor out of another tenant's targets, matrices, reports, runs and artifacts", async () => {
      await as('globex').post('/api/targets').send({ id: 'globex-board', extends: 'static' }).expect(201);
      await as('acme').get('/api/targets/globex-board').expect(404);
      const targets = (await as('acme').get('/api/targets').expect(200)).body as { id: string }[];
      assert.ok(
        targets.some((t) => t.id === 'static'),
        'bundled targets are public',
      );
      assert.ok(!targets.some((t) => t.id === 'globex-board'));
      await as('acme').post('/api/targets').send({ id: 'acme-x', extends: 'globex-board' }).expect(400);
      // Target ids are one namespace: taken is taken.
      await as('acme').post('/api/targets').send({ id: 'globex-board', extends: 'static' }).expect(409);

      const sha = shaOf(bytes(1));
      const matrix = (
        await as('globex')
          .post('/api/matrices')
          .send({ images: [sha], targets: ['globex-board'], suites: ['static'] })
          .expect(201)
      ).body as MatrixView;
      const acmeSha = shaOf(bytes(2));
      const refused = await as('acme')
        .post('/api/matrices')
        .send({ images: [acmeSha], targets: ['globex-board'], suites: ['static'] })
        .expect(400);
      assert.deepEqual(
        refused.body.errors.map((e: { path: string }) => e.path),
        ['targets.0'],
      );
      const runId = matrix.cells[0].runId;
      const agentId = (
        await as('agent')
          .post('/api/agents')
          .send({ name: 'a1', host: 'h', version: '0', capabilities: { targetKinds: ['static'] } })
          .expect(201)
      ).body.id as string;
      await as('agent').post(`/api/runs/${runId}/attempts/1/start`).send({ agentId }).expect(200);
      await as('agent')
        .post(`/api/runs/${runId}/attempts/1/result`)
        .send({
          agentId,
          verdicts: [],
          error: 'only an artifact',
          durationMs: 1,
          artifacts: [
            {
              name: 'serial.log',
              contentBase64: Buffer.from('boot').toString('base64'),
              mediaType: 'text/plain',
            },
          ],
        })
        .expect(200);

      for (const url of [
        `/api/matrices/${matrix.id}`,
        `/api/matrices/${matrix.id}/report`,
        `/api/runs/${runId}`,
        `/api/runs/${runId}/attempts/1/artifacts/serial.log`,
      ]) {
        await as('acme').get(url).expect(404);
        await as('globex').get(url).expect(200);
        await as('viewer').get(url).expect(200);
      }
      assert.deepEqual((await as('acme').get('/api/matrices').expect(200)).body, []);
      assert.deepEqual(
        ((await as('globex').get('/api/matrices').expect(200)).body as MatrixView[]).map((m) => m.id),
        [matrix.id],
      );
    });

    it('lets a vendor that uploads the same bytes as another tenant use that image', async () => {
      const sha = shaOf(bytes(1));
      const again = await upload('acme', bytes(1), 'acme-copy').expect(200);
      assert.equal(again.body.sha256, sha);
      await as('acme').get(`/api/images/${sha}`).expect(200);
      await as('acme')
        .post('/api/matrices')
        .send({ images: [sha], targets: ['static'], suites: ['static'] })
        .expect(201);
      // The other tenant's matrices stay its own.
      assert.equal(((await as('acme').get('/api/matrices').expect(200)).body as MatrixView[]).length, 1);
    });

    it('lets a viewer read everything and change nothing (403)', async () => {
      await as('viewer').get('/api/agents').expect(200);
      await as('viewer').get('/api/suites').expect(200);
      const up = await upload('viewer', bytes(4), 'nope').expect(403);
      assert.equal(up.body.message, 'a viewer token may not call PUT /api/images');
      await as('viewer')
        .post('/api/matrices')
        .send({ images: [shaOf(bytes(3))], targets: ['static'], suites: ['static'] })
        .expect(403);
      await as('viewer').post('/api/targets').send({ id: 'v', extends: 'static' }).expect(403);
      await as('viewer').post('/api/tokens').send({ name: 'x', role: 'admin' }).expect(403);
      await as('viewer').get('/api/tokens').expect(403);
      await as('viewer').get('/api/config').expect(403);
      await as('viewer').post('/api/agents').send({}).expect(403);
    });

    it('lets an agent token call the agent routes and nothing else', async () => {
      await as('agent').get('/api/images').expect(403);
      await as('agent')
        .get(`/api/images/${shaOf(bytes(3))}`)
        .expect(403);
      await as('agent')
        .post('/api/matrices')
        .send({ images: [shaOf(bytes(3))], targets: ['static'], suites: ['static'] })
        .expect(403);
      await as('agent').get('/api/matrices').expect(403);
      await as('agent').get('/api/tokens').expect(403);
      await upload('agent', bytes(5), 'nope').expect(403);
      assert.equal((await as('agent').get('/api/config').expect(200)).body.redisUrl, 'redis://127.0.0.1:1');
      const reg = await as('agent')
        .post('/api/agents')
        .send({ name: 'a', host: 'h', version: '0', capabilities: { targetKinds: ['static'] } })
        .expect(201);
      await as('agent').post(`/api/agents/${reg.body.id}/heartbeat`).expect(200);
      await as('agent').get('/api/agents').expect(200);
      // Vendors do not impersonate agents.
      await as('acme').post(`/api/agents/${reg.body.id}/heartbeat`).expect(403);
      await as('acme').get('/api/config').expect(403);
    });

    it('logs in with a session cookie (HttpOnly, SameSite=Strict) and out again', async () => {
      const login = await anonymous().post('/api/session').send({ token: tokens.acme.token }).expect(204);
      const cookie = (login.headers['set-cookie'] as unknown as string[])[0];
      // A session id of its own, never the token; it expires (VMFARM_SESSION_SECONDS, 12 h by default).
      assert.match(
        cookie,
        /^vmfarm_session=vms_[\w-]{43}; Path=\/; Expires=[^;]+ GMT; HttpOnly; SameSite=Strict$/,
      );
      assert.ok(!cookie.includes(tokens.acme.token));
      const expires = Date.parse(/Expires=([^;]+)/.exec(cookie)![1]);
      assert.ok(Math.abs(expires - Date.now() - 12 * 3600_000) < 60_000, cookie);
      const pair = cookie.split(';')[0];
      const sessionId = pair.split('=')[1];
      // Stored as its sha256 only.
      const rows = await app.get<Db>(DB).selectFrom('sessions').selectAll().execute();
      assert.ok(rows.some((r) => r.session_sha256 === tokenHash(sessionId)));
      assert.ok(!JSON.stringify(rows).includes(sessionId));
      // A session id is no API token.
      await anonymous().get('/api/me').set('authorization', `Bearer ${sessionId}`).expect(401);
      assert.equal((await anonymous().get('/api/me').set('cookie', pair).expect(200)).body.tenant, 'acme');
      assert.deepEqual(
        ((await anonymous().get('/api/images').set('cookie', pair).expect(200)).body as { name: string }[])
          .map((i) => i.name)
          .sort(),
        // globex-os: acme uploaded the same bytes, so it may use that image.
        ['acme-os', 'globex-os', 'public-os'],
      );
      await anonymous()
        .put('/api/images')
        .set('cookie', pair)
        .send(bytes(6))
        .set('content-type', 'application/octet-stream')
        .expect(201);
      const logout = await anonymous().delete('/api/session').set('cookie', pair).expect(204);
      assert.match(
        (logout.headers['set-cookie'] as unknown as string[])[0],
        /^vmfarm_session=; Path=\/; Expires=Thu, 01 Jan 1970/,
      );
      // Logged out is revoked: a copy of the cookie kept elsewhere is refused from now on.
      const ended = await anonymous().get('/api/me').set('cookie', pair).expect(401);
      assert.match(ended.body.message, /session expired or was ended: log in again/);
      // An expired session is refused too.
      const again = await anonymous().post('/api/session').send({ token: tokens.acme.token }).expect(204);
      const pair2 = (again.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
      await anonymous().get('/api/me').set('cookie', pair2).expect(200);
      await app
        .get<Db>(DB)
        .updateTable('sessions')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('session_sha256', '=', tokenHash(pair2.split('=')[1]))
        .execute();
      await anonymous().get('/api/me').set('cookie', pair2).expect(401);
      const wrong = await anonymous().post('/api/session').send({ token: 'vmf_guess' }).expect(401);
      assert.equal(wrong.headers['set-cookie'], undefined);
      await anonymous().post('/api/session').send({}).expect(400);
    });

    it('refuses a revoked token, by header and by cookie', async () => {
      const login = await anonymous().post('/api/session').send({ token: tokens.viewer.token }).expect(204);
      const pair = (login.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
      await admin().delete(`/api/tokens/${tokens.viewer.id}`).expect(204);
      await admin().delete(`/api/tokens/${tokens.viewer.id}`).expect(204);
      await admin().delete('/api/tokens/no-such-token').expect(404);
      const refused = await as('viewer').get('/api/images').expect(401);
      assert.equal(refused.body.message, 'invalid or revoked token');
      await anonymous().get('/api/images').set('cookie', pair).expect(401);
      await anonymous().post('/api/session').send({ token: tokens.viewer.token }).expect(401);
      const listed = (await admin().get('/api/tokens').expect(200)).body as {
        id: string;
        revokedAt: string | null;
      }[];
      assert.ok(listed.find((t) => t.id === tokens.viewer.id)?.revokedAt);
    });
  });
}
