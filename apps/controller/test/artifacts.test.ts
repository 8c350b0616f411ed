import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { MatrixView, RunView } from '@vmfarm/protocol';
import { createApp } from '../src/app';
import { resolveConfig } from '../src/config';
import { ADMIN_TOKEN, authed, registerAgent } from './helpers/auth';
import { requireEnv, tempDir, uniqueName } from './helpers/env';

describe('artifact download (SQLite, real Redis)', () => {
  let app: NestExpressApplication;
  let dataDir: string;
  let runId: string;
  const http = () => authed(app.getHttpServer(), ADMIN_TOKEN);
  // Every byte value, so any text decoding would show.
  const log = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));

  before(async () => {
    dataDir = tempDir('artifacts');
    app = await createApp(
      resolveConfig({
        redisUrl: requireEnv('REDIS_URL'),
        dataDir,
        queuePrefix: uniqueName('artifacts'),
        adminToken: ADMIN_TOKEN,
      }),
    );
    const image = await http()
      .put('/api/images?name=disk&arch=aarch64')
      .set('content-type', 'application/octet-stream')
      .send(Buffer.alloc(8192, 0x5a))
      .expect(201);
    const matrix = (
      await http()
        .post('/api/matrices')
        .send({ images: [image.body.sha256], targets: ['static'], suites: ['static'] })
        .expect(201)
    ).body as MatrixView;
    runId = matrix.cells[0].runId;
    const agentId = await registerAgent(http());
    await http().post(`/api/runs/${runId}/attempts/1/start`).send({ agentId }).expect(200);
    const ack = await http()
      .post(`/api/runs/${runId}/attempts/1/result`)
      .send({
        agentId,
        verdicts: [],
        error: 'no verdicts: this test only records an artifact',
        durationMs: 5,
        artifacts: [{ name: 'serial.log', contentBase64: log.toString('base64'), mediaType: 'text/plain' }],
      })
      .expect(200);
    assert.equal(ack.body.recorded, true);
  });
  after(async () => {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists the artifact and serves it byte-identical with its media type and file name', async () => {
    const run = (await http().get(`/api/runs/${runId}`).expect(200)).body as RunView;
    assert.deepEqual(run.artifacts, [{ attempt: 1, name: 'serial.log', mediaType: 'text/plain', size: 512 }]);
    const res = await http()
      .get(`/api/runs/${runId}/attempts/1/artifacts/serial.log`)
      .buffer(true)
      // As bytes whatever the media type: no text decoding on the way.
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    assert.ok((res.body as Buffer).equals(log));
    assert.match(res.headers['content-type'], /^text\/plain/);
    assert.equal(res.headers['content-length'], '512');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="serial.log"');
  });

  it('answers an unknown run, attempt or name with an ApiError 404', async () => {
    for (const url of [
      '/api/runs/ghost/attempts/1/artifacts/serial.log',
      `/api/runs/${runId}/attempts/2/artifacts/serial.log`,
      `/api/runs/${runId}/attempts/1/artifacts/other.log`,
    ]) {
      const res = await http().get(url).expect(404);
      assert.deepEqual(Object.keys(res.body).sort(), ['error', 'errors', 'message', 'statusCode'], url);
      assert.equal(res.body.statusCode, 404);
    }
  });

  it('rejects a bad name and attempt with a 400 listing both', async () => {
    const res = await http().get(`/api/runs/${runId}/attempts/0/artifacts/bad%20name!`).expect(400);
    assert.deepEqual(
      res.body.errors.map((e: { path: string }) => e.path),
      ['params.attempt', 'params.name'],
    );
    await http().get(`/api/runs/${runId}/attempts/x/artifacts/serial.log`).expect(400);
  });
});
