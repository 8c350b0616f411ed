import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { matrixReportSchema, runViewSchema, type MatrixView } from '@vmfarm/protocol';
import { eventually, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';
import { buildGptFatImage, xzCopy } from './helpers/image';

for (const store of STORES) {
  describe(`end to end on ${store.name}: upload, matrix, agent, report`, () => {
    let farm: Farm;
    let xz: Buffer;

    before(async () => {
      const dir = tempDir(`e2e-${store.name}`);
      xz = fs.readFileSync(xzCopy(buildGptFatImage(dir)));
      farm = await new Farm(dir, store).start();
    });
    after(() => farm.close());

    it('runs every cell on a real agent and reports it as JSON and JUnit', async () => {
      const agent = farm.agent('a');
      const agentId = await agent.ready;
      const up = await farm
        .http()
        .put('/api/images?name=gpt-fat&arch=aarch64')
        .set('content-type', 'application/x-xz')
        .send(xz)
        .expect(201);
      assert.equal(up.body.uploadedAs, 'xz');
      assert.equal(up.body.format, 'raw');
      const sha: string = up.body.sha256;

      const created = await farm
        .http()
        .post('/api/matrices')
        .send({ images: [sha], targets: ['static'], suites: ['all'] })
        .expect(201);
      const matrix = created.body as MatrixView;
      assert.equal(matrix.progress.total, 1);

      const done = await eventually(async () => {
        const m = (await farm.http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
        return m.state === 'done' && m;
      });
      assert.deepEqual(done.progress, { done: 1, total: 1 });

      const report = matrixReportSchema.parse(
        (await farm.http().get(`/api/matrices/${matrix.id}/report`).expect(200)).body,
      );
      const [cell] = report.cells;
      assert.equal(cell.image.sha256, sha);
      assert.equal(cell.attempts, 1);
      const byClause = new Map(cell.verdicts.map((v) => [v.clause, v.verdict]));
      assert.equal(byClause.get('IMG-GPT'), 'PASS', JSON.stringify(cell.verdicts, null, 1));
      assert.equal(byClause.get('IMG-ESP'), 'PASS');
      assert.equal(byClause.get('IMG-EFI-APP'), 'FAIL', 'the stub is no PE image');
      assert.ok(cell.verdicts.every((v) => v.verdict !== 'ERROR'));
      assert.equal(report.summary.result, 'FAIL');
      assert.ok(report.summary.mustFailures.includes('IMG-EFI-APP'));

      const junit = await farm.http().get(`/api/matrices/${matrix.id}/report?format=junit`).expect(200);
      assert.match(junit.headers['content-type'], /xml/);
      assert.match(junit.text, /^<\?xml/);
      assert.match(junit.text, /<testcase classname="static.MUST" name="IMG-GPT">/);
      assert.match(junit.text, /<failure message="[^"]*" type="MUST">/);

      const run = runViewSchema.parse((await farm.http().get(`/api/runs/${cell.runId}`).expect(200)).body);
      assert.equal(run.state, 'done');
      assert.equal(run.verdict, 'FAIL');
      assert.deepEqual(
        run.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [[1, agentId, 'FAIL']],
      );
      assert.equal(run.verdicts.length, cell.verdicts.length);

      const list = (await farm.http().get('/api/matrices').expect(200)).body as MatrixView[];
      assert.deepEqual(
        list.map((m) => m.id),
        [matrix.id],
      );

      agent.kill('SIGTERM');
      assert.equal(await agent.exited, 0, agent.output());
    });
  });
}
