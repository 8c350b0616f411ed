import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AgentView, MatrixView, RunView } from '@vmfarm/protocol';
import { eventually, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';

/**
 * An agent with concurrency 2 runs two attempts at once, and still every run is recorded once: one
 * attempt, one set of verdicts. Real agent process, real controller, real Redis (BullMQ), SQLite.
 */
describe('an agent running attempts side by side records each run once', () => {
  let farm: Farm;
  before(async () => {
    farm = await new Farm(tempDir('concurrency'), STORES[0]).start();
  });
  after(() => farm?.close());

  it('two at a time, never more, each run once', async () => {
    const images: string[] = [];
    for (let i = 0; i < 6; i++)
      images.push(
        (
          await farm
            .http()
            .put(`/api/images?name=disk-${i}&arch=aarch64`)
            .set('content-type', 'application/octet-stream')
            .send(Buffer.alloc(4096, i + 1))
            .expect(201)
        ).body.sha256 as string,
      );
    const matrix = (
      await farm
        .http()
        .post('/api/matrices')
        .send({ images, targets: ['static'], suites: ['static'] })
        .expect(201)
    ).body as MatrixView;
    // Queued before the agent starts, and each attempt held a while: the agent has work for both.
    const agent = farm.agent('pair', { VMFARM_AGENT_CONCURRENCY: '2', VMFARM_AGENT_FAULT_DELAY_MS: '1000' });
    const id = await agent.ready;
    const agents = (await farm.http().get('/api/agents').expect(200)).body as AgentView[];
    assert.equal(agents.find((a) => a.id === id)?.capabilities.concurrency, 2);
    await eventually(async () => {
      const m = (await farm.http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      return m.state === 'done';
    });
    const runs = await Promise.all(
      matrix.cells.map(
        async (c) => (await farm.http().get(`/api/runs/${c.runId}`).expect(200)).body as RunView,
      ),
    );
    const spans: [number, number][] = [];
    for (const r of runs) {
      assert.deepEqual(
        r.attempts.map((a) => [a.attempt, a.agentId]),
        [[1, id]],
        agent.output(),
      );
      const clauses = r.verdicts.map((v) => v.clause);
      assert.equal(new Set(clauses).size, clauses.length, `${r.id}: a clause recorded twice`);
      assert.ok(clauses.length > 0);
      const a = r.attempts[0];
      spans.push([Date.parse(a.startedAt!), Date.parse(a.finishedAt!)]);
    }
    // How many attempts were running at each start: 2 at some point, never 3.
    const overlap = spans.map(([s]) => spans.filter(([s2, f2]) => s2 <= s && s < f2).length);
    assert.equal(Math.max(...overlap), 2, JSON.stringify(spans));
    assert.equal((agent.output().match(/ reported/g) ?? []).length, runs.length, agent.output());
  });
});
