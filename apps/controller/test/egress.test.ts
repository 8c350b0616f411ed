import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../src/app';
import { resolveConfig } from '../src/config';
import {
  EgressRefusedError,
  internalHostProblem,
  isInternalAddress,
  publicOnlyLookup,
} from '../src/triage/egress';
import { postWebhook } from '../src/triage/transports';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { requireEnv, tempDir, uniqueName } from './helpers/env';

describe('webhook egress: a tenant cannot point a hook at the farm itself', () => {
  it('classes loopback, private, link-local (metadata) and mapped addresses as internal', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '[::1]',
      'not-an-address',
    ])
      assert.equal(isInternalAddress(a), true, a);
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])
      assert.equal(isInternalAddress(a), false, a);
    assert.match(internalHostProblem(new URL('http://localhost:8700/'))!, /this host/);
    assert.match(internalHostProblem(new URL('http://[::1]:80/'))!, /internal/);
    assert.equal(internalHostProblem(new URL('https://hooks.example.com/x')), undefined);
  });

  it('refuses a name that resolves to an internal address on the address the connection would use', async () => {
    const err = await new Promise<Error | null>((resolve) =>
      publicOnlyLookup('localhost', {}, (e) => resolve(e)),
    );
    assert.ok(err instanceof EgressRefusedError, String(err));
  });

  describe('delivery and creation (real controller, SQLite, Redis)', () => {
    let app: NestExpressApplication;
    const dir = tempDir('egress');
    const hits: string[] = [];
    const receiver = createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    let url: string;
    before(async () => {
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      app = await createApp(
        resolveConfig({
          redisUrl: requireEnv('REDIS_URL'),
          dataDir: dir,
          queuePrefix: uniqueName('egress'),
          adminToken: ADMIN_TOKEN,
        }),
      );
    });
    after(async () => {
      await app.close();
      await new Promise<void>((r) => receiver.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('posts to an internal receiver only for an admin', async () => {
      await assert.rejects(postWebhook(url, '{}', {}, { allowInternal: false }), EgressRefusedError);
      assert.deepEqual(hits, [], 'nothing reached the receiver');
      assert.equal(await postWebhook(url, '{}', {}, { allowInternal: true }), 200);
      assert.deepEqual(hits, ['/hook']);
    });

    it("refuses a vendor's webhook to a loopback or metadata address at creation, takes an admin's", async () => {
      const admin = authed(app.getHttpServer(), ADMIN_TOKEN);
      const vendor = (
        await admin.post('/api/tokens').send({ name: 'acme-ci', role: 'vendor', tenant: 'acme' }).expect(201)
      ).body.token as string;
      const acme = authed(app.getHttpServer(), vendor);
      for (const target of [url, 'http://localhost:9/x', 'http://169.254.169.254/latest/meta-data/']) {
        const res = await acme
          .post('/api/hooks')
          .send({ scope: { kind: 'tenant', tenant: 'acme' }, webhook: { url: target } })
          .expect(400);
        assert.match(res.body.message, /public addresses only/);
      }
      await acme
        .post('/api/hooks')
        .send({
          scope: { kind: 'tenant', tenant: 'acme' },
          webhook: { url: 'https://hooks.example.com/vmfarm' },
        })
        .expect(201);
      await admin
        .post('/api/hooks')
        .send({ scope: { kind: 'farm' }, webhook: { url } })
        .expect(201);
    });
  });
});
