import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { redisConnection } from '@vmfarm/host';
import {
  matrixReportSchema,
  queueName,
  type MatrixView,
  type RunView,
  type TokenCreated,
} from '@vmfarm/protocol';
import { Queue } from 'bullmq';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { ADMIN_TOKEN, authed, registerAgent } from './helpers/auth';
import { requireEnv, STORES, tempDir, uniqueName } from './helpers/env';

type Who = 'acme' | 'globex' | 'viewer' | 'rack1' | 'rack2';

const gptFail = {
  suite: 'static',
  clause: 'IMG-GPT',
  level: 'MUST',
  verdict: 'FAIL',
  message: 'no GPT',
  evidence: {},
};

/**
 * Results come only from the agent holding a started attempt; a matrix can be cancelled; a report
 * names its images. A real controller, real Redis (BullMQ), SQLite and PostgreSQL.
 */
for (const store of STORES) {
  describe(`attempt results, cancel and reports (${store.name})`, () => {
    let farm: RunningController;
    let dir: string;
    let drop: () => Promise<void>;
    const prefix = uniqueName('results');
    const tokens = {} as Record<Who, TokenCreated>;
    const agents = {} as Record<'rack1' | 'rack2', string>;
    const admin = () => authed(farm.url, ADMIN_TOKEN);
    const as = (who: Who) => authed(farm.url, tokens[who].token);
    let sha: string;

    const submit = async (who: Who | 'admin' = 'acme', images = [sha]) =>
      (
        await (who === 'admin' ? admin() : as(who))
          .post('/api/matrices')
          .send({ images, targets: ['static'], suites: ['static'] })
          .expect(201)
      ).body as MatrixView;
    const run = async (id: string) => (await admin().get(`/api/runs/${id}`).expect(200)).body as RunView;
    const post = (who: Who, runId: string, attempt: number, agentId: string) =>
      as(who)
        .post(`/api/runs/${runId}/attempts/${attempt}/result`)
        .send({ agentId, durationMs: 1, verdicts: [gptFail] });

    before(async () => {
      dir = tempDir(`results-${store.name}`);
      const db = await store.create(dir);
      drop = db.drop;
      farm = await bootstrap(
        resolveConfig({
          redisUrl: requireEnv('REDIS_URL'),
          dataDir: dir,
          databaseUrl: db.databaseUrl,
          queuePrefix: prefix,
          adminToken: ADMIN_TOKEN,
          port: 0,
        }),
      );
      const make = async (body: object) =>
        (await admin().post('/api/tokens').send(body).expect(201)).body as TokenCreated;
      tokens.acme = await make({ name: 'acme ci', role: 'vendor', tenant: 'acme' });
      tokens.globex = await make({ name: 'globex ci', role: 'vendor', tenant: 'globex' });
      tokens.viewer = await make({ name: 'auditor', role: 'viewer' });
      tokens.rack1 = await make({ name: 'rack 1', role: 'agent' });
      tokens.rack2 = await make({ name: 'rack 2', role: 'agent' });
      agents.rack1 = await registerAgent(as('rack1'), 'rack 1');
      agents.rack2 = await registerAgent(as('rack2'), 'rack 2');
      sha = (
        await as('acme')
          .put('/api/images?name=debian-12&version=12.7&arch=aarch64')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(4096, 7))
          .expect(201)
      ).body.sha256;
    });
    after(async () => {
      await farm.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('takes a result only from the agent holding the started attempt; every other is refused, nothing recorded', async () => {
      const matrix = await submit();
      const runId = matrix.cells[0].runId;
      const nothing = async () => {
        const r = await run(runId);
        assert.equal(r.verdicts.length, 0);
        assert.deepEqual(
          r.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
          (await run(runId)).attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        );
        return r;
      };

      // Never started: refused.
      const unstarted = await post('rack1', runId, 1, agents.rack1).expect(409);
      assert.match(
        unstarted.body.message,
        new RegExp(`attempt 1 of run ${runId} was never started: nothing recorded`),
      );
      assert.deepEqual((await nothing()).attempts, []);

      await as('rack1')
        .post(`/api/runs/${runId}/attempts/1/start`)
        .send({ agentId: agents.rack1 })
        .expect(200);
      // Another agent's token, naming the agent that holds the attempt, or itself.
      const stolen = await post('rack2', runId, 1, agents.rack1).expect(403);
      assert.match(stolen.body.message, /registered with another token/);
      const other = await post('rack2', runId, 1, agents.rack2).expect(403);
      assert.match(other.body.message, new RegExp(`held by agent ${agents.rack1}, not ${agents.rack2}`));
      // Starting the attempt another agent holds.
      await as('rack2')
        .post(`/api/runs/${runId}/attempts/1/start`)
        .send({ agentId: agents.rack2 })
        .expect(409);
      // A wrong attempt number.
      const wrong = await post('rack1', runId, 2, agents.rack1).expect(409);
      assert.match(wrong.body.message, /attempt 2 .* was never started \(started: 1\)/);
      // A vendor is no agent.
      await post('acme', runId, 1, agents.rack1).expect(403);
      const held = await nothing();
      assert.deepEqual(
        held.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [[1, agents.rack1, null]],
      );

      // The holder is heard, once.
      assert.deepEqual((await post('rack1', runId, 1, agents.rack1).expect(200)).body, {
        recorded: true,
        retry: false,
      });
      const finished = await post('rack1', runId, 1, agents.rack1).expect(409);
      assert.match(finished.body.message, /already finished \(FAIL\): nothing recorded/);
      const done = await run(runId);
      assert.deepEqual([done.state, done.verdict, done.verdicts.length], ['done', 'FAIL', 1]);
      // The failing clause shows on the matrix cell.
      const view = (await as('acme').get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      assert.deepEqual(view.cells[0].failing, ['IMG-GPT']);
    });

    it('names each cell’s image and version in JSON and JUnit reports', async () => {
      const matrix = await submit();
      const report = matrixReportSchema.parse(
        (await as('acme').get(`/api/matrices/${matrix.id}/report`).expect(200)).body,
      );
      assert.deepEqual(report.cells[0].image, {
        sha256: sha,
        size: 4096,
        format: 'raw',
        arch: 'aarch64',
        name: 'debian-12',
        version: '12.7',
      });
      const junit = (await as('acme').get(`/api/matrices/${matrix.id}/report?format=junit`).expect(200)).text;
      assert.match(junit, /<testsuite name="debian-12 12\.7 static static"/);
      assert.match(junit, /<property name="image\.name" value="debian-12"\/>/);
      assert.match(junit, /<property name="image\.version" value="12\.7"\/>/);
      assert.match(junit, new RegExp(`<property name="image.sha256" value="${sha}"/>`));
    });

    it('cancels a matrix: queued runs leave the queue, the running one’s agent is told, each SKIP with the reason', async () => {
      const other = (
        await as('acme')
          .put('/api/images?name=fedora&arch=aarch64')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(4096, 9))
          .expect(201)
      ).body.sha256 as string;
      const matrix = await submit('acme', [sha, other]);
      const [running, queued] = matrix.cells.map((c) => c.runId);
      const queue = new Queue(queueName('static'), {
        connection: redisConnection(requireEnv('REDIS_URL')),
        prefix,
      });
      try {
        assert.ok(await queue.getJob(queued), 'queued in BullMQ');
        await as('rack1')
          .post(`/api/runs/${running}/attempts/1/start`)
          .send({ agentId: agents.rack1 })
          .expect(200);

        await as('globex').post(`/api/matrices/${matrix.id}/cancel`).send({}).expect(404);
        await as('viewer').post(`/api/matrices/${matrix.id}/cancel`).send({}).expect(403);
        await as('acme')
          .post(`/api/matrices/${matrix.id}/cancel`)
          .send({ reason: 'bad\u0007bell' })
          .expect(400);
        const cancelled = (
          await as('acme')
            .post(`/api/matrices/${matrix.id}/cancel`)
            .send({ reason: 'wrong image' })
            .expect(200)
        ).body as MatrixView;
        assert.equal(cancelled.state, 'done');
        assert.equal(cancelled.cancelled?.by, 'acme ci');
        assert.equal(cancelled.cancelled?.reason, 'wrong image');
        assert.deepEqual(
          cancelled.cells.map((c) => [c.state, c.verdict]),
          [
            ['done', 'SKIP'],
            ['done', 'SKIP'],
          ],
        );
        assert.equal(await queue.getJob(queued), undefined, 'the queued job left the queue');

        const stopped = await run(running);
        assert.deepEqual(
          stopped.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
          [[1, agents.rack1, 'cancelled']],
        );
        assert.match(stopped.verdicts[0].message, /^cancelled by acme ci at .*: wrong image$/);
        assert.equal(stopped.verdicts[0].verdict, 'SKIP');
        const never = await run(queued);
        assert.deepEqual(
          never.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
          [[1, null, 'cancelled']],
        );
        // The agent holding the running one learns it at its next heartbeat; the other agent does not.
        assert.deepEqual((await as('rack1').post(`/api/agents/${agents.rack1}/heartbeat`).expect(200)).body, {
          ok: true,
          cancel: [running],
        });
        assert.deepEqual((await as('rack2').post(`/api/agents/${agents.rack2}/heartbeat`).expect(200)).body, {
          ok: true,
          cancel: [],
        });
        await as('rack2').post(`/api/agents/${agents.rack1}/heartbeat`).expect(403);
        // What the agent would still report is refused; a job taken anyway is told the run is done.
        assert.match(
          (await post('rack1', running, 1, agents.rack1).expect(409)).body.message,
          /already finished \(cancelled\)/,
        );
        assert.deepEqual(
          (
            await as('rack2')
              .post(`/api/runs/${queued}/attempts/1/start`)
              .send({ agentId: agents.rack2 })
              .expect(200)
          ).body,
          { proceed: false, state: 'done' },
        );
        // Cancelling again changes nothing; the report and the list say why.
        const again = (await as('acme').post(`/api/matrices/${matrix.id}/cancel`).send({}).expect(200)).body;
        assert.equal(again.cancelled.reason, 'wrong image');
        const report = matrixReportSchema.parse(
          (await as('acme').get(`/api/matrices/${matrix.id}/report`).expect(200)).body,
        );
        assert.deepEqual(
          report.cells.map((c) => c.summary.skip > 0 && c.verdicts.every((v) => v.verdict === 'SKIP')),
          [true, true],
        );
        const [entry] = (await as('acme').get('/api/matrices?limit=1').expect(200)).body;
        assert.deepEqual(
          [entry.id, entry.cancelled.reason, entry.counts.SKIP],
          [matrix.id, 'wrong image', 2],
        );
        assert.equal(entry.cells, undefined, 'a list entry is a summary');
      } finally {
        await queue.close();
      }
    });
  });
}
