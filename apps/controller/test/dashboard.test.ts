import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { dashboardDir, dashboardRouter } from '../src/http/dashboard';

// The static module alone, on a bare express app: the controller mounts the same router.
describe('dashboard static files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmfarm-dashboard-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
  fs.writeFileSync(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  const app = express();
  app.use(dashboardRouter(dir));
  app.get('/api/health', (_req, res) => void res.json({ ok: true }));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves index.html at / and at every client-side route, never cached, with a CSP', async () => {
    for (const p of ['/', '/matrices', '/runs/abc', '/certification/images/00ff']) {
      const res = await request(app).get(p).expect(200);
      assert.match(res.text, /id="root"/, p);
      assert.match(res.headers['content-type'], /text\/html/);
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.match(res.headers['content-security-policy'], /default-src 'self'/);
    }
  });

  it('serves hashed assets as immutable and answers 404 for missing ones', async () => {
    const res = await request(app).get('/assets/index-abc.js').expect(200);
    assert.equal(res.text, 'console.log(1)');
    assert.match(res.headers['cache-control'], /immutable/);
    await request(app).get('/assets/missing.js').expect(404);
  });

  it('leaves /api and non-GET requests to the API', async () => {
    assert.deepEqual((await request(app).get('/api/health').expect(200)).body, { ok: true });
    await request(app).get('/api/nope').expect(404);
    await request(app).get('/api').expect(404);
    await request(app).post('/matrices').expect(404);
  });

  it('says how to build it when it is not built', async () => {
    const missing = path.join(dir, 'nothing-here');
    const bare = express().use(dashboardRouter(missing));
    const res = await request(bare).get('/').expect(503);
    assert.match(res.text, /the dashboard is not built/);
    assert.match(res.text, /npm run build -w @vmfarm\/dashboard/);
    assert.ok(res.text.includes(missing));
  });

  it('finds the build through VMFARM_DASHBOARD_DIR, else in the monorepo', () => {
    assert.equal(dashboardDir({ VMFARM_DASHBOARD_DIR: dir }), dir);
    assert.equal(dashboardDir({}), path.resolve(__dirname, '../../../dashboard/dist'));
  });
});
