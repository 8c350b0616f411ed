import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Controller } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  API,
  ApiRequestError,
  createClient,
  openApiDocument,
  READERS,
  type RouteSpec,
} from '@vmfarm/protocol';
import { z } from 'zod';
import { createApp, servedRoutes } from '../src/app';
import { resolveConfig } from '../src/config';
import { In, Route } from '../src/http/route';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { requireEnv, tempDir, uniqueName } from './helpers/env';

/** A route a test adds to the table: it must reach the controller, OpenAPI and the client. */
const echo = {
  method: 'post',
  path: '/api/echo/:word',
  summary: 'Says the word back, `times` times, with the note',
  auth: READERS,
  params: z.object({ word: z.string().regex(/^[a-z]+$/, 'lowercase letters') }),
  query: z.object({ times: z.coerce.number().int().min(1).max(3).default(1) }),
  body: z.object({ note: z.string().max(10) }).strict(),
  responses: { 200: z.object({ echo: z.string() }), 400: null },
} as const satisfies RouteSpec;

/** One whose handler breaks its own contract: tests hold every answer to the table. */
const broken = {
  method: 'get',
  path: '/api/broken',
  summary: 'Answers a number where the table says a string',
  auth: READERS,
  responses: { 200: z.object({ echo: z.string() }) },
} as const satisfies RouteSpec;

const EXTRA = { echo, broken };

@Controller()
class EchoController {
  @Route(echo)
  echo(@In() input: In<typeof echo>): { echo: string } {
    return { echo: input.params.word.repeat(input.query.times) + input.body.note };
  }

  @Route(broken)
  broken(): unknown {
    return { echo: 5 };
  }
}

describe('the route table', () => {
  const dir = tempDir('routes');
  let app: NestExpressApplication;
  let url: string;
  const config = () =>
    resolveConfig({
      redisUrl: requireEnv('REDIS_URL'),
      dataDir: dir,
      queuePrefix: uniqueName('routes'),
      adminToken: ADMIN_TOKEN,
      port: 0,
      validateResponses: true,
    });

  before(async () => {
    app = await createApp(config(), { routes: EXTRA, controllers: [EchoController] });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves exactly the routes of the table, and refuses to start when one is not served', async () => {
    assert.deepEqual(
      servedRoutes(app),
      Object.values({ ...API, ...EXTRA })
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    );
    await assert.rejects(
      createApp(config(), { routes: EXTRA }),
      /the routes served differ from the route table: not served: post \/api\/echo\/:word; not served: get \/api\/broken/,
    );
  });

  it('documents an added route in the OpenAPI document it serves', async () => {
    const doc = (await authed(url, ADMIN_TOKEN).get('/api/openapi.json').expect(200)).body;
    assert.deepEqual(
      doc,
      JSON.parse(JSON.stringify(openApiDocument({ ...API, ...EXTRA }, doc.info.version))),
    );
    const op = doc.paths['/api/echo/{word}'].post;
    assert.equal(op.summary, echo.summary);
    assert.deepEqual(op['x-vmfarm-roles'], ['admin', 'vendor', 'viewer']);
    assert.deepEqual(
      op.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`),
      ['path:word', 'query:times'],
    );
    assert.deepEqual(op.requestBody.content['application/json'].schema.properties.note, {
      type: 'string',
      maxLength: 10,
    });
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '401', '403', '413']);
    assert.equal(op['x-vmfarm-limits'].jsonBodyBytes.env, 'VMFARM_MAX_JSON_BYTES');
  });

  it('validates an added route’s params, query and body against the table, every problem at once', async () => {
    const res = await authed(url, ADMIN_TOKEN)
      .post('/api/echo/NO?times=9')
      .send({ note: 'far too long a note', extra: 1 })
      .expect(400);
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path).sort(), [
      'body',
      'body.note',
      'params.word',
      'query.times',
    ]);
    await authed(url, ADMIN_TOKEN).post('/api/echo/ok').expect(400);
    // And who may call it comes from the table too.
    await authed(url, 'vmf_' + 'x'.repeat(43))
      .post('/api/echo/ok')
      .send({ note: '' })
      .expect(401);
  });

  it('calls an added route through the typed client, and reads its answer against the table', async () => {
    const client = createClient({ ...API, ...EXTRA }, { baseUrl: url, token: ADMIN_TOKEN });
    assert.deepEqual(
      await client.echo({ params: { word: 'ab' }, query: { times: 2 }, body: { note: '!' } }),
      {
        echo: 'abab!',
      },
    );
    await assert.rejects(
      client.echo({ params: { word: 'AB' }, body: { note: '' } }),
      (e: ApiRequestError) => e.status === 400 && e.errors[0].path === 'params.word',
    );
    // The controller holds its answer to the table (a 500 in tests), so a client never reads it.
    await assert.rejects(
      client.broken(),
      (e: ApiRequestError) => e.status === 500 && /breaks the route table/.test(e.message),
    );
  });
});
