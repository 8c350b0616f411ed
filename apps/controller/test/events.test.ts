import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { matrixEventSchema, runViewSchema, type MatrixView } from '@vmfarm/protocol';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { EventsService } from '../src/events/events.service';
import { ADMIN_TOKEN, authed, registerAgent } from './helpers/auth';
import { eventually, requireEnv, tempDir, uniqueName } from './helpers/env';
import { matrixOf, openStream } from './helpers/sse';

describe('server-sent events (real Redis pub/sub, real HTTP)', () => {
  let farm: RunningController;
  let closed = false;
  const dir = tempDir('events');
  const http = () => authed(farm.url, ADMIN_TOKEN);

  before(async () => {
    farm = await bootstrap(
      resolveConfig({
        redisUrl: requireEnv('REDIS_URL'),
        dataDir: dir,
        queuePrefix: uniqueName('events'),
        port: 0,
        adminToken: ADMIN_TOKEN,
      }),
    );
  });
  after(async () => {
    if (!closed) await farm.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('streams run and matrix events of one matrix while its run finishes', async () => {
    const sha = (
      await http()
        .put('/api/images?name=disk&arch=aarch64')
        .set('content-type', 'application/octet-stream')
        .send(Buffer.alloc(1024, 7))
        .expect(201)
    ).body.sha256 as string;
    const submit = async () =>
      (
        await http()
          .post('/api/matrices')
          .send({ images: [sha], targets: ['static'], suites: ['all'] })
          .expect(201)
      ).body as MatrixView;
    const matrix = await submit();
    const other = await submit();

    const stream = await openStream(`${farm.url}/api/events?matrix=${matrix.id}`, ADMIN_TOKEN);
    assert.equal(stream.res.statusCode, 200);
    assert.match(String(stream.res.headers['content-type']), /^text\/event-stream/);
    const all = await openStream(`${farm.url}/api/events`, ADMIN_TOKEN);
    const events = farm.app.get(EventsService);
    assert.equal(events.listenerCount(), 2);

    const runId = matrix.cells[0].runId;
    const agentId = await registerAgent(http());
    await http().post(`/api/runs/${runId}/attempts/1/start`).send({ agentId }).expect(200);
    const running = await stream.until(
      (e) => e.event === 'run' && (e.data as { state: string }).state === 'running',
    );
    assert.equal(runViewSchema.parse(running.data).id, runId);
    await http()
      .post(`/api/runs/${runId}/attempts/1/result`)
      .send({
        agentId,
        durationMs: 3,
        verdicts: [
          {
            suite: 'static',
            clause: 'IMG-GPT',
            level: 'MUST',
            verdict: 'FAIL',
            message: 'no GPT',
            evidence: {},
          },
        ],
      })
      .expect(200);
    const done = await stream.until(
      (e) => e.event === 'matrix' && (e.data as { state: string }).state === 'done',
    );
    assert.deepEqual(matrixEventSchema.parse(done.data), {
      id: matrix.id,
      total: 1,
      done: 1,
      counts: { PASS: 0, FAIL: 1, ERROR: 0, SKIP: 0 },
      state: 'done',
    });
    const finished = runViewSchema.parse(
      (await stream.until((e) => e.event === 'run' && (e.data as { state: string }).state === 'done')).data,
    );
    assert.deepEqual([finished.verdict, finished.verdicts[0].clause], ['FAIL', 'IMG-GPT']);

    // The other matrix's events reach the unfiltered stream only.
    await http().post(`/api/runs/${other.cells[0].runId}/attempts/1/start`).send({ agentId }).expect(200);
    await all.until((e) => e.event === 'matrix' && (e.data as { id: string }).id === other.id);
    await all.until((e) => e.event === 'matrix' && (e.data as { id: string }).id === matrix.id);
    assert.ok(stream.events.every((e) => matrixOf(e) === matrix.id));

    // A client that goes away is unsubscribed.
    all.res.destroy();
    await eventually(async () => events.listenerCount() === 1);
    await http().get('/api/events?matrix=').expect(400);
  });

  it('ends open streams when the controller shuts down', async () => {
    const stream = await openStream(`${farm.url}/api/events`, ADMIN_TOKEN);
    await farm.close();
    closed = true;
    await stream.ended;
    assert.equal(farm.app.get(EventsService).listenerCount(), 0);
  });
});
