import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { redisConnection } from '@vmfarm/host';
import { queueName, type MatrixView, type RunView } from '@vmfarm/protocol';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { eventually, requireEnv, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';
import { buildGptFatImage } from './helpers/image';

const sqlite = STORES.find((s) => s.name === 'sqlite')!;
const postgres = STORES.find((s) => s.name === 'postgres')!;
/** Long enough that the first agent is still "running" when the test kills or stops it. */
const STUCK = { VMFARM_AGENT_FAULT_DELAY_MS: '600000' };

async function upload(farm: Farm, bytes: Buffer, name: string): Promise<string> {
  const res = await farm
    .http()
    .put(`/api/images?name=${name}`)
    .set('content-type', 'application/octet-stream')
    .send(bytes);
  assert.ok(res.status === 201 || res.status === 200, res.text);
  return res.body.sha256 as string;
}

async function submit(farm: Farm, images: string[]): Promise<MatrixView> {
  return (
    await farm
      .http()
      .post('/api/matrices')
      .send({ images, targets: ['static'], suites: ['static'] })
      .expect(201)
  ).body;
}

const run = async (farm: Farm, id: string) =>
  (await farm.http().get(`/api/runs/${id}`).expect(200)).body as RunView;

const matrixDone = (farm: Farm, id: string) =>
  eventually(async () => {
    const m = (await farm.http().get(`/api/matrices/${id}`).expect(200)).body as MatrixView;
    return m.state === 'done' && m;
  });

describe('failures', () => {
  let image: Buffer;
  before(() => {
    const dir = tempDir('fail-img');
    image = fs.readFileSync(buildGptFatImage(dir));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('an agent killed with SIGKILL mid-run', () => {
    let farm: Farm;
    before(async () => {
      farm = await new Farm(tempDir('kill'), postgres).start();
    });
    after(() => farm.close());

    it('is retried by another agent and recorded once, with both attempts', async () => {
      const doomed = farm.agent('doomed', STUCK);
      const doomedId = await doomed.ready;
      const sha = await upload(farm, image, 'kill');
      const matrix = await submit(farm, [sha]);
      const runId = matrix.cells[0].runId;
      await eventually(async () => (await run(farm, runId)).attempts.some((a) => a.agentId === doomedId));
      doomed.kill('SIGKILL');
      await doomed.exited;

      const rescuer = farm.agent('rescuer');
      const rescuerId = await rescuer.ready;
      await matrixDone(farm, matrix.id);
      const view = await run(farm, runId);
      assert.deepEqual(
        view.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [
          [1, doomedId, 'lost'],
          [2, rescuerId, 'FAIL'],
        ],
      );
      assert.equal(view.verdict, 'FAIL');
      const clauses = view.verdicts.map((v) => v.clause);
      assert.equal(new Set(clauses).size, clauses.length, 'verdicts recorded once');
    });
  });

  describe('an agent stopped with SIGTERM mid-run', () => {
    let farm: Farm;
    before(async () => {
      farm = await new Farm(tempDir('term'), sqlite).start();
    });
    after(() => farm.close());

    it('hands the run back after its grace period and exits 0; another agent completes it', async () => {
      const leaving = farm.agent('leaving', STUCK);
      const leavingId = await leaving.ready;
      const sha = await upload(farm, image, 'term');
      const matrix = await submit(farm, [sha]);
      const runId = matrix.cells[0].runId;
      await eventually(async () => (await run(farm, runId)).attempts.some((a) => a.agentId === leavingId));
      leaving.kill('SIGTERM');
      assert.equal(await leaving.exited, 0, leaving.output());
      assert.match(leaving.output(), /handed back/);

      const next = farm.agent('next');
      const nextId = await next.ready;
      await matrixDone(farm, matrix.id);
      const view = await run(farm, runId);
      assert.deepEqual(
        view.attempts.map((a) => [a.agentId, a.outcome]),
        [
          [leavingId, 'lost'],
          [nextId, 'FAIL'],
        ],
      );
    });
  });

  describe('the controller restarted with runs queued and no agent', () => {
    let farm: Farm;
    before(async () => {
      farm = await new Farm(tempDir('restart'), sqlite).start();
    });
    after(() => farm.close());

    it('loses nothing: jobs Redis lost are re-queued and every run completes', async () => {
      const shas = [
        await upload(farm, image, 'r1'),
        await upload(farm, Buffer.alloc(64 * 1024), 'r2'),
        await upload(farm, Buffer.alloc(64 * 1024, 1), 'r3'),
      ];
      const matrix = await submit(farm, shas);
      assert.equal(matrix.cells.length, 3);
      await farm.stopController();

      // Redis forgets two of the three jobs while the controller is down.
      const queue = new Queue(queueName('static'), {
        connection: redisConnection(requireEnv('REDIS_URL')),
        prefix: farm.queuePrefix,
      });
      await queue.remove(matrix.cells[0].runId);
      await queue.remove(matrix.cells[2].runId);
      assert.equal(await queue.getJob(matrix.cells[0].runId), undefined);
      await queue.close();

      await farm.start();
      farm.agent('late');
      const done = await matrixDone(farm, matrix.id);
      assert.deepEqual(
        done.cells.map((c) => [c.state, c.attempts]),
        [
          ['done', 1],
          ['done', 1],
          ['done', 1],
        ],
      );
      assert.deepEqual(
        done.cells.map((c) => c.verdict),
        ['FAIL', 'FAIL', 'FAIL'],
      );
    });
  });

  describe('an attempt that errors every time', () => {
    let farm: Farm;
    before(async () => {
      farm = await new Farm(tempDir('error'), sqlite).start();
    });
    after(() => farm.close());

    it('is retried up to the attempt limit, then the run is ERROR (never FAIL)', async () => {
      const sha = await upload(farm, Buffer.alloc(4096, 2), 'gone');
      // The image file vanishes from the controller: downloads fail, an infrastructure ERROR.
      fs.rmSync(path.join(farm.dir, 'data', 'images', sha.slice(0, 2), sha));
      farm.agent('a');
      const matrix = await submit(farm, [sha]);
      await matrixDone(farm, matrix.id);
      const view = await run(farm, matrix.cells[0].runId);
      assert.equal(view.verdict, 'ERROR');
      assert.deepEqual(
        view.attempts.map((a) => a.outcome),
        ['ERROR', 'ERROR', 'ERROR'],
      );
      assert.ok(view.verdicts.length > 0 && view.verdicts.every((v) => v.verdict === 'ERROR'));
      assert.match(view.verdicts[0].message, /404/);
    });
  });

  describe('a job BullMQ gives up on', () => {
    let farm: Farm;
    before(async () => {
      farm = await new Farm(tempDir('gaveup'), sqlite).start();
    });
    after(() => farm.close());

    it('ends its run as ERROR with the reason, even though no agent reported', async () => {
      const sha = await upload(farm, Buffer.alloc(4096, 3), 'gaveup');
      const matrix = await submit(farm, [sha]);
      // Not an agent: a worker whose jobs fail for good, as when a job stalled too often.
      const worker = new Worker(
        queueName('static'),
        async () => {
          throw new UnrecoverableError('the host caught fire');
        },
        { connection: redisConnection(requireEnv('REDIS_URL')), prefix: farm.queuePrefix },
      );
      try {
        await matrixDone(farm, matrix.id);
      } finally {
        await worker.close();
      }
      const view = await run(farm, matrix.cells[0].runId);
      assert.equal(view.verdict, 'ERROR');
      assert.deepEqual(
        view.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [[1, null, 'ERROR']],
      );
      assert.ok(view.verdicts.every((v) => v.verdict === 'ERROR' && /the host caught fire/.test(v.message)));
    });
  });
});
