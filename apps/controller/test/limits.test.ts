import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import type { MatrixView, TokenCreated } from '@vmfarm/protocol';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { filesUnder, requireEnv, STORES, tempDir, uniqueName } from './helpers/env';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Sends a request whose body is announced (`length`) or chunked, a chunk at a time, and takes the
 * answer as soon as it comes: how much of the body had been sent by then says whether the
 * controller read it before answering. Never sends more than `cap` bytes.
 */
// What a test can see of "answered before reading the body" is how much it had written when the
// answer came. Loopback buffers hold up to the tcp_wmem and tcp_rmem maxima (4 + 32 MiB on the
// machines here) that the controller never read, so the body is far larger than that.
const BODY = 100 * MiB;
const IN_FLIGHT = 48 * MiB;

function sendUntilAnswered(
  url: string,
  options: { method: string; path: string; headers: Record<string, string>; length?: number; cap: number },
): Promise<{ status: number; body: { message: string }; sent: number }> {
  return new Promise((resolve, reject) => {
    const target = new URL(options.path, url);
    const req = httpRequest(target, {
      method: options.method,
      headers: {
        ...options.headers,
        ...(options.length === undefined ? {} : { 'content-length': String(options.length) }),
      },
    });
    let sent = 0;
    let answered = false;
    const pump = (): void => {
      while (!answered && sent < options.cap) {
        const chunk = Buffer.alloc(Math.min(16 * KiB, options.cap - sent), 0x20);
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(parts).toString()), sent });
      });
    });
    // The controller may close the connection once it has answered: not a failure here.
    req.on('error', (err) => (answered ? undefined : reject(err)));
    req.flushHeaders();
    pump();
  });
}

/** Every input bounded, each limit configurable, each breach a clear 4xx (README "Limits"). */
for (const store of STORES) {
  describe(`limits (${store.name})`, () => {
    let farm: RunningController;
    let dir: string;
    let drop: () => Promise<void>;
    const tokens = {} as Record<'acme' | 'globex', TokenCreated>;
    const admin = () => authed(farm.url, ADMIN_TOKEN);
    const as = (who: keyof typeof tokens) => authed(farm.url, tokens[who].token);
    const upload = (who: 'acme' | 'admin', body: Buffer, name = 'disk') =>
      (who === 'admin' ? admin() : as(who))
        .put(`/api/images?name=${name}&arch=aarch64`)
        .set('content-type', 'application/octet-stream')
        .send(body);

    before(async () => {
      dir = tempDir(`limits-${store.name}`);
      const db = await store.create(dir);
      drop = db.drop;
      farm = await bootstrap(
        resolveConfig({
          redisUrl: requireEnv('REDIS_URL'),
          dataDir: dir,
          databaseUrl: db.databaseUrl,
          queuePrefix: uniqueName('limits'),
          adminToken: ADMIN_TOKEN,
          port: 0,
          limits: {
            jsonBodyBytes: 64 * KiB,
            matrixCells: 4,
            tenantActiveCells: 3,
            pageSize: 20,
            responseBytes: 6 * KiB,
            tenantImageBytes: 12 * KiB,
          },
        }),
      );
      const make = async (body: object) =>
        (await admin().post('/api/tokens').send(body).expect(201)).body as TokenCreated;
      tokens.acme = await make({ name: 'acme ci', role: 'vendor', tenant: 'acme' });
      tokens.globex = await make({ name: 'globex ci', role: 'vendor', tenant: 'globex' });
    });
    after(async () => {
      await farm.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it(
      'answers a large body without a token, or over the limit, before reading it',
      { timeout: 60_000 },
      async () => {
        const json = { 'content-type': 'application/json' };
        const bearer = { authorization: `Bearer ${tokens.acme.token}` };
        // 100 MiB announced, no token: refused while the body is still on its way.
        const anonymous = await sendUntilAnswered(farm.url, {
          method: 'POST',
          path: '/api/matrices',
          headers: json,
          length: BODY,
          cap: BODY,
        });
        assert.equal(anonymous.status, 401);
        assert.ok(anonymous.sent < IN_FLIGHT, `${anonymous.sent} bytes sent before the answer`);
        const announced = await sendUntilAnswered(farm.url, {
          method: 'POST',
          path: '/api/matrices',
          headers: { ...json, ...bearer },
          length: BODY,
          cap: BODY,
        });
        assert.equal(announced.status, 413);
        assert.match(
          announced.body.message,
          /larger than the limit of 65536 bytes \(VMFARM_MAX_JSON_BYTES\)/,
        );
        assert.ok(announced.sent < IN_FLIGHT, `${announced.sent} bytes sent before the answer`);
        // Chunked, no length: refused once past the limit.
        const chunked = await sendUntilAnswered(farm.url, {
          method: 'POST',
          path: '/api/matrices',
          headers: { ...json, ...bearer },
          cap: BODY,
        });
        assert.equal(chunked.status, 413);
        assert.ok(chunked.sent < IN_FLIGHT, `${chunked.sent} bytes sent before the answer`);
        // An image upload with no token is refused before any byte is stored.
        const image = await sendUntilAnswered(farm.url, {
          method: 'PUT',
          path: '/api/images',
          headers: { 'content-type': 'application/octet-stream' },
          length: BODY,
          cap: BODY,
        });
        assert.equal(image.status, 401);
        assert.deepEqual(filesUnder(`${dir}/images`), []);
        // Within the limit, a body is read as before.
        await as('acme').post('/api/matrices').send({ images: [] }).expect(400);
      },
    );

    it('bounds a matrix’s cells, and a tenant’s runs not done', async () => {
      const shas: string[] = [];
      for (let i = 0; i < 5; i++)
        shas.push((await upload('admin', Buffer.alloc(1024, i + 1)).expect(201)).body.sha256);
      const big = await as('acme')
        .post('/api/matrices')
        .send({ images: shas, targets: ['static'], suites: ['static'] })
        .expect(400);
      assert.match(
        big.body.message,
        /a matrix of 5 cells is over the limit of 4 \(VMFARM_MAX_MATRIX_CELLS\)/,
      );
      assert.deepEqual((await admin().get('/api/matrices').expect(200)).body, []);

      const two = { images: shas.slice(0, 2), targets: ['static'], suites: ['static'] };
      await as('acme').post('/api/matrices').send(two).expect(201);
      const busy = await as('acme').post('/api/matrices').send(two).expect(429);
      assert.match(
        busy.body.message,
        /tenant acme has 2 runs not done; 2 more would pass the limit of 3 \(VMFARM_MAX_TENANT_CELLS\)/,
      );
      // Another tenant, and an admin, are not held back by acme's runs.
      await as('globex').post('/api/matrices').send(two).expect(201);
      await admin().post('/api/matrices').send(two).expect(201);
      assert.equal((await admin().get('/api/matrices').expect(200)).body.length, 3);
    });

    it('bounds page sizes, and answers a report too large for one answer with how to page it', async () => {
      const over = await admin().get('/api/images?limit=21').expect(400);
      assert.deepEqual(over.body.errors, [
        { path: 'query.limit', message: 'at most 20 (VMFARM_MAX_PAGE_SIZE); page with offset' },
      ]);
      const page = (await admin().get('/api/images?limit=2&offset=1').expect(200)).body as unknown[];
      assert.equal(page.length, 2);
      await admin().get('/api/matrices?limit=0').expect(400);

      const [matrix] = (await admin().get('/api/matrices?limit=1').expect(200)).body as MatrixView[];
      const longEvidence = { note: 'x'.repeat(4 * KiB) };
      const agentToken = (await admin().post('/api/tokens').send({ name: 'rack', role: 'agent' }).expect(201))
        .body;
      const agent = authed(farm.url, agentToken.token);
      const agentId = (
        await agent
          .post('/api/agents')
          .send({ name: 'rack', host: 'h', version: '0', capabilities: { targetKinds: ['static'] } })
          .expect(201)
      ).body.id;
      const { cells } = (await admin().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      for (const c of cells) {
        await agent.post(`/api/runs/${c.runId}/attempts/1/start`).send({ agentId }).expect(200);
        await agent
          .post(`/api/runs/${c.runId}/attempts/1/result`)
          .send({
            agentId,
            durationMs: 1,
            verdicts: [
              {
                suite: 'static',
                clause: 'IMG-GPT',
                level: 'MUST',
                verdict: 'PASS',
                message: 'ok',
                evidence: longEvidence,
              },
            ],
          })
          .expect(200);
      }
      const whole = await admin().get(`/api/matrices/${matrix.id}/report`).expect(400);
      assert.match(
        whole.body.message,
        /the answer would be \d+ bytes, over the limit of 6144 \(VMFARM_MAX_RESPONSE_BYTES\): ask for a page \(\?offset=&limit=\)/,
      );
      const first = (await admin().get(`/api/matrices/${matrix.id}/report?limit=1`).expect(200)).body;
      assert.deepEqual(
        [first.cells.length, first.page, first.summary.pass],
        [1, { offset: 0, limit: 1, total: 2 }, 2],
      );
    });

    it(
      'holds a vendor to its tenant’s image quota, checked before the bytes are read',
      { timeout: 60_000 },
      async () => {
        await upload('acme', Buffer.alloc(8 * KiB, 0x41), 'first').expect(201);
        const announced = await sendUntilAnswered(farm.url, {
          method: 'PUT',
          path: '/api/images?name=second',
          headers: {
            authorization: `Bearer ${tokens.acme.token}`,
            'content-type': 'application/octet-stream',
          },
          length: 8 * KiB,
          cap: 8 * KiB,
        });
        assert.equal(announced.status, 413);
        assert.match(
          announced.body.message,
          /over tenant acme's image quota: 4096 of 12288 bytes left \(VMFARM_TENANT_IMAGE_QUOTA\)/,
        );
        // A small gzip that inflates past what is left is stopped while streaming.
        const bomb = await upload('acme', zlib.gzipSync(Buffer.alloc(64 * KiB)), 'bomb').expect(413);
        assert.match(bomb.body.message, /quota/);
        await upload('acme', Buffer.alloc(4 * KiB, 0x42), 'fits').expect(201);
        assert.deepEqual(filesUnder(`${dir}/tmp`), []);
        // Another tenant has a quota of its own; an admin's uploads are public and count for no tenant.
        await upload('admin', Buffer.alloc(16 * KiB, 0x43), 'public').expect(201);
        await as('globex')
          .put('/api/images?name=g')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(8 * KiB, 0x44))
          .expect(201);
      },
    );

    it('refuses a schedule firing more often than the minimum interval', async () => {
      const schedule = (cron: string) =>
        as('acme')
          .post('/api/schedules')
          .send({
            name: 'often',
            cron,
            images: { tags: ['nightly'] },
            targets: ['static'],
            suites: ['static'],
          });
      const secondly = await schedule('* * * * * *').expect(400);
      assert.deepEqual(secondly.body.errors, [
        {
          path: 'cron',
          message:
            "'* * * * * *' fires 1 s apart; schedules fire at most every 3600 s (VMFARM_MIN_SCHEDULE_SECONDS)",
        },
      ]);
      await schedule('*/10 * * * *').expect(400);
      assert.deepEqual((await as('acme').get('/api/schedules').expect(200)).body, []);
    });

    it('refuses control characters in the names of images, targets, schedules, tokens and agents', async () => {
      const bad = ['esc\u001b[31m', 'line\nbreak', 'bell\u0007', 'rtl\u202eevil', 'nul\u0000', 'c1\u0085'];
      for (const name of bad) {
        const up = await upload('acme', Buffer.alloc(512, 9), encodeURIComponent(name)).expect(400);
        assert.deepEqual(
          up.body.errors,
          [{ path: 'query.name', message: 'must not contain control characters' }],
          name,
        );
        const token = await admin().post('/api/tokens').send({ name, role: 'viewer' }).expect(400);
        assert.equal(token.body.errors[0].path, 'body.name');
        const schedule = await as('acme')
          .post('/api/schedules')
          .send({ name, cron: '0 2 * * *', images: { tags: ['t'] }, targets: ['static'], suites: ['static'] })
          .expect(400);
        assert.equal(schedule.body.errors[0].path, 'body.name');
        const target = await as('acme')
          .post('/api/targets')
          .send({ id: 'named', extends: 'static', description: name })
          .expect(400);
        assert.equal(target.body.errors[0].path, 'description');
        await admin()
          .post('/api/agents')
          .send({ name, host: 'h', version: '0', capabilities: { targetKinds: ['static'] } })
          .expect(400);
      }
      const sha = (
        await as('globex')
          .put('/api/images?name=plain')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(512, 10))
          .expect(201)
      ).body.sha256;
      await as('globex').patch(`/api/images/${sha}`).send({ name: 'tab\there' }).expect(400);
      // Printable names of any script stay welcome.
      await as('globex').patch(`/api/images/${sha}`).send({ name: 'Débian 12 — ARM 日本' }).expect(200);
    });

    it("refuses control characters in a known issue's title, owner and reason (lines allowed in the reason)", async () => {
      const issue = (fields: Record<string, string>) =>
        as('acme')
          .post('/api/known-issues')
          .send({ title: 't', owner: 'o', reason: 'r', match: { clauses: ['IMG-GPT'] }, ...fields });
      for (const bad of ['esc\u001b[31m', 'bell\u0007', 'rtl\u202eevil', 'nul\u0000', 'c1\u0085']) {
        for (const field of ['title', 'owner', 'reason']) {
          const res = await issue({ [field]: bad }).expect(400);
          assert.equal(res.body.errors[0].path, `body.${field}`, `${field}: ${JSON.stringify(bad)}`);
        }
      }
      await issue({ title: 'line\nbreak' }).expect(400);
      const made = await issue({ reason: 'two lines:\n\tthe firmware, then the image' }).expect(201);
      await as('acme').patch(`/api/known-issues/${made.body.id}`).send({ owner: 'tab\there' }).expect(400);
    });
  });
}
