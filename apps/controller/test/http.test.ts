import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { API, type RouteSpec } from '@vmfarm/protocol';
import { createApp, servedRoutes } from '../src/app';
import { resolveConfig } from '../src/config';
import { writeQcow2 } from '@vmfarm/image/testing';
import { ADMIN_TOKEN, authed } from './helpers/auth';

const ROUTES: RouteSpec[] = Object.values(API);
import { filesUnder, requireEnv, tempDir, uniqueName } from './helpers/env';

const LIMIT = 1024 * 1024;

describe('REST API (SQLite, real Redis)', () => {
  let app: NestExpressApplication;
  let dataDir: string;
  const http = () => authed(app.getHttpServer(), ADMIN_TOKEN);

  before(async () => {
    dataDir = tempDir('http');
    app = await createApp(
      resolveConfig({
        redisUrl: requireEnv('REDIS_URL'),
        dataDir,
        queuePrefix: uniqueName('http'),
        limits: { imageBytes: LIMIT },
        adminToken: ADMIN_TOKEN,
      }),
    );
  });
  after(async () => {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const nothingStored = async () => {
    assert.deepEqual(filesUnder(path.join(dataDir, 'images')), []);
    assert.deepEqual(filesUnder(path.join(dataDir, 'tmp')), []);
    assert.deepEqual((await http().get('/api/images').expect(200)).body, []);
  };

  it('answers unknown routes and ids with ApiError 404s', async () => {
    const res = await http().get('/api/nope').expect(404);
    assert.deepEqual(Object.keys(res.body).sort(), ['error', 'errors', 'message', 'statusCode']);
    await http()
      .get(`/api/images/${'f'.repeat(64)}`)
      .expect(404);
    await http().get('/api/runs/nope').expect(404);
    await http().get('/api/matrices/nope').expect(404);
    await http().get('/api/targets/nope').expect(404);
  });

  it('rejects malformed uploads with a clear 4xx and stores nothing', async () => {
    const put = () => http().put('/api/images').set('content-type', 'application/octet-stream');
    assert.match((await put().send(Buffer.alloc(0)).expect(400)).body.message, /empty body/);
    assert.match((await put().send(Buffer.from('hello world')).expect(400)).body.message, /not a disk image/);
    assert.match(
      (
        await put()
          .send(Buffer.alloc(LIMIT + 512))
          .expect(413)
      ).body.message,
      /VMFARM_MAX_IMAGE_BYTES/,
    );
    // A small gzip that inflates beyond the limit is stopped while streaming.
    assert.equal(
      (
        await put()
          .send(zlib.gzipSync(Buffer.alloc(LIMIT * 4)))
          .expect(413)
      ).body.statusCode,
      413,
    );
    assert.match(
      (
        await put()
          .send(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]))
          .expect(400)
      ).body.message,
      /gzip/,
    );
    const badXz = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(100, 7)]);
    assert.match((await put().send(badXz).expect(400)).body.message, /xz/);
    await http().put('/api/images').set('content-type', 'text/plain').send('x'.repeat(512)).expect(415);
    const bad = await http()
      .put('/api/images?arch=x86&name=')
      .set('content-type', 'application/octet-stream')
      .send(Buffer.alloc(512))
      .expect(400);
    assert.deepEqual(
      bad.body.errors.map((e: { path: string }) => e.path),
      ['query.arch'],
    );
    await nothingStored();
  });

  it('stores an image by the sha256 of its decompressed bytes, once', async () => {
    const raw = Buffer.alloc(8192, 0x5a);
    const sha = createHash('sha256').update(raw).digest('hex');
    const put = (body: Buffer) =>
      http()
        .put('/api/images?name=disk&arch=aarch64')
        .set('content-type', 'application/octet-stream')
        .send(body);
    const created = await put(raw).expect(201);
    assert.deepEqual(
      { ...created.body, createdAt: undefined },
      {
        sha256: sha,
        size: raw.length,
        format: 'raw',
        arch: 'aarch64',
        archDeclared: true,
        name: 'disk',
        version: null,
        tags: [],
        owner: null,
        uploadedAs: 'raw',
        createdAt: undefined,
      },
    );
    assert.deepEqual((await put(zlib.gzipSync(raw)).expect(200)).body, created.body);
    const xz = execFileSync('xz', ['-c'], { input: raw });
    assert.equal((await put(xz).expect(200)).body.sha256, sha);
    assert.deepEqual(filesUnder(path.join(dataDir, 'images')), [path.join(sha.slice(0, 2), sha)]);
    const content = await http()
      .get(`/api/images/${sha}/content`)
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    assert.ok((content.body as Buffer).equals(raw));
    const qcow = writeQcow2(Buffer.alloc(65536, 0x33));
    assert.equal((await put(qcow).expect(201)).body.format, 'qcow2');
    assert.equal((await http().get('/api/images').expect(200)).body.length, 2);
  });

  it('refuses a qcow2 that names a backing or external data file, or a header QEMU refuses, with the reason', async () => {
    const good = writeQcow2(Buffer.alloc(65536, 0x77));
    const variant = (change: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      change(b);
      return b;
    };
    const cases: Array<[Buffer, RegExp]> = [
      [variant((b) => (b.writeBigUInt64BE(512n, 8), b.write('/etc/passwd', 512, 'latin1'))), /backing file/],
      [variant((b) => b.writeBigUInt64BE(4n, 72)), /external data file/],
      [variant((b) => b.writeUInt32BE(0, 100)), /header_length 0/],
      [variant((b) => b.writeUInt32BE(0x10000000, 56)), /reference count table is too large/],
    ];
    for (const [body, reason] of cases) {
      const res = await http()
        .put('/api/images?name=bad')
        .set('content-type', 'application/octet-stream')
        .send(zlib.gzipSync(body))
        .expect(400);
      assert.match(res.body.message, /^qcow2 image refused: /);
      assert.match(res.body.message, reason);
    }
    assert.deepEqual(filesUnder(path.join(dataDir, 'tmp')), []);
  });

  it('writes a decompressed upload sparse: an xz of zeros takes almost no disk', async () => {
    const raw = Buffer.alloc(LIMIT);
    raw.write('not all zero', LIMIT / 2);
    const xz = execFileSync('xz', ['-c'], { input: raw });
    const sha = createHash('sha256').update(raw).digest('hex');
    const res = await http()
      .put('/api/images?name=zeros&arch=aarch64')
      .set('content-type', 'application/octet-stream')
      .send(xz)
      .expect(201);
    assert.equal(res.body.size, raw.length);
    const st = fs.statSync(path.join(dataDir, 'images', sha.slice(0, 2), sha));
    assert.equal(st.size, raw.length);
    // One 64 KiB block holds the text; the rest is holes.
    assert.ok(
      st.blocks * 512 <= 128 * 1024,
      `${st.blocks * 512} bytes allocated for ${LIMIT} bytes, nearly all zero`,
    );
  });

  it('validates whole requests: every error in one 400, nothing written', async () => {
    const res = await http()
      .post('/api/matrices')
      .send({ images: ['nothex', 'a'.repeat(64)], targets: [], extra: 1 })
      .expect(400);
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path).sort(), [
      'body.images.0',
      'body.suites',
      'body.targets',
    ]);
    await http()
      .post('/api/matrices')
      .set('content-type', 'application/json')
      .send('{"images": [')
      .expect(400);
    const unknown = await http()
      .post('/api/matrices')
      .send({ images: ['a'.repeat(64)], targets: ['static', 'ghost'], suites: ['static', 'ghost'] })
      .expect(400);
    assert.deepEqual(
      unknown.body.errors.map((e: { path: string }) => e.path),
      ['images.0', 'targets.1', 'suites.1'],
    );
    assert.deepEqual((await http().get('/api/matrices').expect(200)).body, []);
    await http().get('/api/matrices/x/report?format=pdf').expect(400);
  });

  it('serves target profiles: bundled bases and user profiles extending them', async () => {
    const list = (await http().get('/api/targets').expect(200)).body as { id: string }[];
    assert.ok(list.some((t) => t.id === 'static'));
    const made = await http()
      .post('/api/targets')
      .send({ id: 'static-64', extends: 'static', arch: ['aarch64'] })
      .expect(201);
    assert.deepEqual(made.body, {
      id: 'static-64',
      kind: 'static',
      description: made.body.description,
      extends: 'static',
      arch: ['aarch64'],
    });
    await http().post('/api/targets').send({ id: 'static-64', extends: 'static' }).expect(409);
    await http().post('/api/targets').send({ id: 'static', kind: 'static' }).expect(409);
    const bad = await http().post('/api/targets').send({ id: 'x2', extends: 'ghost' }).expect(400);
    assert.equal(bad.body.errors[0].path, 'extends');
    await http().post('/api/targets').send({ id: 'Bad Id!' }).expect(400);
    assert.equal((await http().get('/api/targets/static-64').expect(200)).body.kind, 'static');
    const suites = (await http().get('/api/suites').expect(200)).body as { id: string }[];
    assert.ok(suites.some((s) => s.id === 'static'));
  });

  it('registers agents and tracks heartbeats', async () => {
    const reg = await http()
      .post('/api/agents')
      .send({ name: 'a1', host: 'h', version: '0', capabilities: { targetKinds: ['static'] } })
      .expect(201);
    assert.equal(reg.body.redisUrl, requireEnv('REDIS_URL'));
    await http().post(`/api/agents/${reg.body.id}/heartbeat`).expect(200);
    await http().post('/api/agents/ghost/heartbeat').expect(404);
    const agents = (await http().get('/api/agents').expect(200)).body;
    assert.deepEqual(
      agents.map((a: { id: string; online: boolean }) => [a.id, a.online]),
      [[reg.body.id, true]],
    );
    await http()
      .post('/api/agents')
      .send({ name: '', capabilities: { targetKinds: ['qemu'] } })
      .expect(400);
    await http().post('/api/runs/ghost/attempts/1/start').send({ agentId: reg.body.id }).expect(404);
    // An agent no token registered acts for nobody.
    await http().post('/api/runs/ghost/attempts/1/start').send({ agentId: 'x' }).expect(403);
    await http().post('/api/runs/ghost/attempts/0/start').send({}).expect(400);
    assert.deepEqual((await http().get('/api/config').expect(200)).body.redisUrl, requireEnv('REDIS_URL'));
    assert.equal((await http().get('/api/health').expect(200)).body.ok, true);
  });

  it('documents every route it serves in OpenAPI 3.1', async () => {
    const doc = (await http().get('/api/openapi.json').expect(200)).body;
    assert.equal(doc.openapi, '3.1.0');
    const served = servedRoutes(app);
    assert.deepEqual(served, ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const r of ROUTES) {
      const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')][r.method];
      assert.ok(op.responses, `${r.method} ${r.path}`);
      if (r.body) assert.ok(op.requestBody, `${r.method} ${r.path} body`);
    }
    assert.ok(
      doc.paths['/api/matrices'].post.requestBody.content['application/json'].schema.properties.images,
    );
  });
});
