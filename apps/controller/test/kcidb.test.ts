import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MatrixView } from '@vmfarm/protocol';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { eventually, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';
import { buildGptFatImage } from './helpers/image';

/** KCIDB's published schema (kernelci/kcidb-io, GPL-2.0), vendored as test data: see its README. */
const SCHEMA = path.resolve(__dirname, '../../test/fixtures/kcidb/kcidb-io.schema.v5.3.json');

interface Kcidb {
  version: { major: number; minor: number };
  checkouts: { id: string; tree_name: string }[];
  builds: { id: string; checkout_id: string; config_name: string; architecture: string; status: string }[];
  tests: { id: string; build_id: string; path: string; status: string; misc: { clause: string } }[];
  issues: { id: string; version: number; report_url: string; report_subject: string }[];
  incidents: { issue_id: string; issue_version: number; test_id: string; present: boolean }[];
}

describe('KCIDB export of a real matrix (SQLite, real Redis, a real agent)', () => {
  let farm: Farm;
  let image: Buffer;
  const validate = (() => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    return ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')));
  })();

  before(async () => {
    const dir = tempDir('kcidb');
    image = fs.readFileSync(buildGptFatImage(dir));
    farm = await new Farm(dir, STORES[0]).start();
  });
  after(() => farm.close());

  it('validates against KCIDB’s schema, with known issues as issues and incidents', async () => {
    const agent = farm.agent('a');
    await agent.ready;
    const sha = (
      await farm
        .http()
        .put('/api/images?name=gpt-fat&version=1.0&tags=nightly&arch=aarch64')
        .set('content-type', 'application/octet-stream')
        .send(image)
        .expect(201)
    ).body.sha256 as string;
    const matrix = (
      await farm
        .http()
        .post('/api/matrices')
        .send({ images: [sha], targets: ['static'], suites: ['all'] })
        .expect(201)
    ).body as MatrixView;
    await eventually(async () => {
      const m = (await farm.http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      return m.state === 'done' || undefined;
    });
    const issue = (
      await farm
        .http()
        .post('/api/known-issues')
        .send({
          title: 'stub loader is no PE image',
          owner: 'farm maintainers',
          link: 'https://bugs.example.org/7',
          reason: 'the test image carries a stub at the removable path',
          match: { clauses: ['IMG-EFI-APP'], imageName: 'gpt-*' },
        })
        .expect(201)
    ).body as { id: string; version: number };

    const data = (await farm.http().get(`/api/matrices/${matrix.id}/kcidb`).expect(200)).body as Kcidb;
    assert.ok(validate(data), JSON.stringify(validate.errors, null, 1));
    assert.deepEqual(data.version, { major: 5, minor: 3 });
    assert.deepEqual(
      data.checkouts.map((c) => [c.id, c.tree_name]),
      [[`vmfarm:image:${sha}`, 'gpt-fat']],
    );
    const [build] = data.builds;
    assert.deepEqual(
      [data.builds.length, build.checkout_id, build.config_name, build.architecture],
      [1, `vmfarm:image:${sha}`, 'static', 'arm64'],
    );
    const report = (await farm.http().get(`/api/matrices/${matrix.id}/report`).expect(200)).body as {
      cells: { verdicts: { clause: string; verdict: string }[] }[];
    };
    const verdicts = report.cells.flatMap((c) => c.verdicts);
    assert.equal(data.tests.length, verdicts.length, 'one test per clause verdict');
    for (const v of verdicts) {
      const t = data.tests.find((x) => x.misc.clause === v.clause)!;
      assert.equal(t.status, v.verdict, `${v.clause}: KCIDB's status is the verdict`);
      assert.equal(t.build_id, build.id);
      assert.equal(t.path, `static.${v.clause}`);
    }
    const failing = data.tests.find((t) => t.misc.clause === 'IMG-EFI-APP')!;
    assert.equal(failing.status, 'FAIL');
    assert.deepEqual(
      data.issues.map((i) => [i.id, i.version, i.report_url, i.report_subject]),
      [[`vmfarm:issue:${issue.id}`, 1, 'https://bugs.example.org/7', 'stub loader is no PE image']],
    );
    assert.deepEqual(
      data.incidents.map((i) => [i.issue_id, i.issue_version, i.test_id, i.present]),
      [[`vmfarm:issue:${issue.id}`, 1, failing.id, true]],
    );
    // Refused data is refused: the validator is not a rubber stamp.
    assert.equal(validate({ ...data, tests: [{ ...failing, status: 'BROKEN' }] }), false);
    agent.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.output());
  });
});
