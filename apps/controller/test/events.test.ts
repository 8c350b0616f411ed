import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { matrixEventSchema, runViewSchema, type MatrixView } from '@vmfarm/protocol';
import request from 'supertest';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { EventsService } from '../src/events/events.service';
import { eventually, requireEnv, tempDir, uniqueName } from './helpers/env';

interface Sse {
  res: IncomingMessage;
  events: { event: string; data: unknown }[];
  /** Resolves when an event matching `pred` has arrived. */
  until(pred: (e: { event: string; data: unknown }) => boolean): Promise<{ event: string; data: unknown }>;
  ended: Promise<void>;
}

/** A plain HTTP client reading text/event-stream as a browser's EventSource would. */
function openStream(url: string): Promise<Sse> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      const events: Sse['events'] = [];
      const waiters: (() => void)[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
          );
          if (fields.event) events.push({ event: fields.event, data: JSON.parse(fields.data) });
        }
        for (const w of waiters.splice(0)) w();
      });
      const ended = new Promise<void>((r) => res.on('end', () => r()));
      const until: Sse['until'] = (pred) =>
        new Promise((done) => {
          const check = () => {
            const found = events.find(pred);
            if (found) done(found);
            else waiters.push(check);
          };
          check();
        });
      resolve({ res, events, until, ended });
    }).on('error', reject);
  });
}

describe('server-sent events (real Redis pub/sub, real HTTP)', () => {
  let farm: RunningController;
  let closed = false;
  const dir = tempDir('events');
  const http = () => request(farm.url);

  before(async () => {
    farm = await bootstrap(
      resolveConfig({
        redisUrl: requireEnv('REDIS_URL'),
        dataDir: dir,
        queuePrefix: uniqueName('events'),
        port: 0,
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

    const stream = await openStream(`${farm.url}/api/events?matrix=${matrix.id}`);
    assert.equal(stream.res.statusCode, 200);
    assert.match(String(stream.res.headers['content-type']), /^text\/event-stream/);
    const all = await openStream(`${farm.url}/api/events`);
    const events = farm.app.get(EventsService);
    assert.equal(events.listenerCount(), 2);

    const runId = matrix.cells[0].runId;
    await http().post(`/api/runs/${runId}/attempts/1/start`).send({ agentId: 'a' }).expect(200);
    const running = await stream.until(
      (e) => e.event === 'run' && (e.data as { state: string }).state === 'running',
    );
    assert.equal(runViewSchema.parse(running.data).id, runId);
    await http()
      .post(`/api/runs/${runId}/attempts/1/result`)
      .send({
        agentId: 'a',
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
    await http()
      .post(`/api/runs/${other.cells[0].runId}/attempts/1/start`)
      .send({ agentId: 'a' })
      .expect(200);
    await all.until((e) => e.event === 'matrix' && (e.data as { id: string }).id === other.id);
    await all.until((e) => e.event === 'matrix' && (e.data as { id: string }).id === matrix.id);
    assert.ok(
      stream.events.every(
        (e) =>
          (e.event === 'matrix'
            ? (e.data as { id: string }).id
            : (e.data as { matrixId: string }).matrixId) === matrix.id,
      ),
    );

    // A client that goes away is unsubscribed.
    all.res.destroy();
    await eventually(async () => events.listenerCount() === 1);
    await http().get('/api/events?matrix=').expect(400);
  });

  it('ends open streams when the controller shuts down', async () => {
    const stream = await openStream(`${farm.url}/api/events`);
    await farm.close();
    closed = true;
    await stream.ended;
    assert.equal(farm.app.get(EventsService).listenerCount(), 0);
  });
});
