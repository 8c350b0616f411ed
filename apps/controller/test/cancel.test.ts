import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { MatrixView, RunView } from '@vmfarm/protocol';
import { eventually, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';
import { buildGptFatImage } from './helpers/image';

const sqlite = STORES.find((s) => s.name === 'sqlite')!;

/**
 * A matrix cancelled while a real agent runs one of its cells: the agent learns it from its next
 * heartbeat and stops the attempt without reporting; the cell queued behind it never runs.
 */
describe('cancelling a matrix an agent is running', () => {
  let farm: Farm;
  before(async () => {
    farm = await new Farm(tempDir('cancel'), sqlite).start();
  });
  after(() => farm.close());

  it(
    'stops the running attempt at the agent’s next heartbeat and runs nothing more',
    { timeout: 120_000 },
    async () => {
      const dir = tempDir('cancel-img');
      const image = fs.readFileSync(buildGptFatImage(dir));
      fs.rmSync(dir, { recursive: true, force: true });
      const sha = (
        await farm
          .http()
          .put('/api/images?name=gpt-fat')
          .set('content-type', 'application/octet-stream')
          .send(image)
          .expect(201)
      ).body.sha256 as string;
      const other = (
        await farm
          .http()
          .put('/api/images?name=other')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(4096))
          .expect(201)
      ).body.sha256 as string;
      // One attempt at a time, each stuck for ten minutes unless stopped.
      const agent = farm.agent('stuck', {
        VMFARM_AGENT_FAULT_DELAY_MS: '600000',
        VMFARM_AGENT_CONCURRENCY: '1',
      });
      const agentId = await agent.ready;
      const matrix = (
        await farm
          .http()
          .post('/api/matrices')
          .send({ images: [sha, other], targets: ['static'], suites: ['static'] })
          .expect(201)
      ).body as MatrixView;
      const view = async (id: string) =>
        (await farm.http().get(`/api/runs/${id}`).expect(200)).body as RunView;
      const running = await eventually(async () => {
        for (const c of matrix.cells) if ((await view(c.runId)).state === 'running') return c.runId;
        return undefined;
      });
      const queued = matrix.cells.map((c) => c.runId).find((id) => id !== running)!;

      const cancelled = (
        await farm.http().post(`/api/matrices/${matrix.id}/cancel`).send({ reason: 'enough' }).expect(200)
      ).body as MatrixView;
      assert.deepEqual(
        cancelled.cells.map((c) => c.verdict),
        ['SKIP', 'SKIP'],
      );
      await eventually(async () =>
        agent.output().includes(`vmfarm agent: run ${running} cancelled on the controller: stopping it`),
      );
      // The agent is free again and reported nothing; the queued cell never reached an agent.
      assert.deepEqual(
        (await view(running)).attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [[1, agentId, 'cancelled']],
      );
      assert.deepEqual(
        (await view(queued)).attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [[1, null, 'cancelled']],
      );
      assert.doesNotMatch(agent.output(), new RegExp(`run ${queued}`));
      assert.doesNotMatch(agent.output(), /failed/);
    },
  );
});
