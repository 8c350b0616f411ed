import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { API, ApiRequestError, artifactSchema, createClient, limitsTable, type RouteSpec } from '../src';

test('artifact names stay inside the attempt directory', () => {
  const ok = (name: string) => artifactSchema.safeParse({ name, contentBase64: '' }).success;
  assert.ok(ok('console.log'));
  assert.ok(ok('vars.fd.gz'));
  assert.ok(ok('.hidden'));
  for (const bad of ['.', '..', '...', '../x', 'a/b', '', 'x'.repeat(101)]) assert.equal(ok(bad), false, bad);
});

test('the route table’s package runs in a browser: no Node module is imported', () => {
  const dir = path.join(__dirname, '../../src');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    assert.deepEqual(
      imports.filter((i) => !i.startsWith('./') && i !== 'zod'),
      [],
      `${file} imports only zod and its siblings (the dashboard bundles it)`,
    );
    assert.doesNotMatch(text, /\b(require\(|process\.|Buffer\b|__dirname)/, file);
  }
});

test('every route of the table has a unique method and path, an access rule and a success answer', () => {
  const seen = new Set<string>();
  for (const [name, r] of Object.entries(API) as [string, RouteSpec][]) {
    const key = `${r.method} ${r.path}`;
    assert.ok(!seen.has(key), `${name}: ${key} twice`);
    seen.add(key);
    assert.ok(r.path.startsWith('/api/'), name);
    assert.ok(r.auth === 'public' || r.auth.length > 0, name);
    assert.ok(
      Object.keys(r.responses).some((s) => Number(s) >= 200 && Number(s) < 300),
      `${name} has a 2xx answer`,
    );
    for (const p of r.path.matchAll(/:(\w+)/g))
      assert.ok(r.params?.shape[p[1]], `${name}: :${p[1]} has a schema`);
  }
});

test('the client builds each call from the table and reads the answer against it', async () => {
  const calls: { url: string; init: RequestInit }[] = [];
  const answers: Response[] = [];
  const client = createClient(API, {
    baseUrl: 'http://farm',
    token: 'vmf_t',
    fetch: async (url, init) => {
      calls.push({ url: String(url), init: init! });
      return answers.shift()!;
    },
  });
  answers.push(Response.json({ ok: true, cancel: ['r1'] }));
  assert.deepEqual(await client.heartbeat({ params: { id: 'a b' } }), { ok: true, cancel: ['r1'] });
  assert.equal(calls[0].url, 'http://farm/api/agents/a%20b/heartbeat');
  assert.equal(calls[0].init.method, 'POST');
  assert.deepEqual(calls[0].init.headers, { authorization: 'Bearer vmf_t' });

  answers.push(new Response(null, { status: 204 }));
  await client.cancelMatrix({ params: { id: 'm' }, body: { reason: 'r' } }).catch(() => undefined);
  assert.equal(calls[1].init.body, '{"reason":"r"}');
  assert.equal((calls[1].init.headers as Record<string, string>)['content-type'], 'application/json');

  answers.push(
    Response.json({ statusCode: 409, error: 'Conflict', message: 'held', errors: [] }, { status: 409 }),
  );
  await assert.rejects(
    client.postAttemptResult({
      params: { id: 'r', n: 2 },
      body: { agentId: 'a', verdicts: [], durationMs: 1 },
    }),
    (e: ApiRequestError) =>
      e.status === 409 && e.message === 'held' && e.route === 'POST /api/runs/:id/attempts/:n/result',
  );
  answers.push(Response.json({ ok: 'yes' }));
  await assert.rejects(
    client.heartbeat({ params: { id: 'a' } }),
    (e: ApiRequestError) => e.detail.unexpected === true && /unexpected answer/.test(e.message),
  );
  answers.push(Response.json([]));
  await client.listMatrices({ query: { limit: 5, schedule: undefined } });
  assert.equal(calls.at(-1)!.url, 'http://farm/api/matrices?limit=5');
  answers.push(Response.json({}, { status: 201 }));
  await client
    .createMatrix({
      body: { images: ['a'.repeat(64)], targets: ['static'], suites: ['all'] },
      headers: { 'idempotency-key': 'k1' },
    })
    .catch(() => undefined);
  assert.equal((calls.at(-1)!.init.headers as Record<string, string>)['idempotency-key'], 'k1');
});

test('the README’s Limits table is the one limits.ts gives', () => {
  const readme = fs.readFileSync(path.join(__dirname, '../../../../README.md'), 'utf8');
  assert.ok(
    readme.includes(limitsTable()),
    'README.md ## Limits: paste limitsTable() (libs/protocol/src/limits.ts)',
  );
});
