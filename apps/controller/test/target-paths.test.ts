import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TokenCreated } from '@vmfarm/protocol';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { STORES, tempDir } from './helpers/env';
import { FakeQueue, FakeScheduler, LocalEventBus } from './helpers/fakes';

/**
 * Issue 9's host-file escape: a target profile's firmware fields are names an agent resolves against
 * what its host offers; only an admin may name a host path. A vendor's profile naming /etc/passwd or
 * the controller's own admin token file is refused at creation, and nothing of it is stored.
 */
describe('target profiles name host files; only an admin names a host path', () => {
  let farm: RunningController;
  let dir: string;
  let drop: () => Promise<void>;
  let vendor: TokenCreated;
  const admin = () => authed(farm.url, ADMIN_TOKEN);
  const asVendor = () => authed(farm.url, vendor.token);

  before(async () => {
    dir = tempDir('target-paths');
    const db = await STORES[0].create(dir);
    drop = db.drop;
    farm = await bootstrap(
      resolveConfig({
        redisUrl: 'redis://127.0.0.1:1',
        dataDir: dir,
        databaseUrl: db.databaseUrl,
        port: 0,
        adminToken: ADMIN_TOKEN,
      }),
      { runQueue: new FakeQueue(), scheduler: new FakeScheduler(), eventBus: new LocalEventBus() },
    );
    vendor = (
      await admin().post('/api/tokens').send({ name: 'acme ci', role: 'vendor', tenant: 'acme' }).expect(201)
    ).body as TokenCreated;
  });
  after(async () => {
    await farm.close();
    await drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a vendor's host path with 403, naming the field, and stores nothing", async () => {
    for (const [id, field, file] of [
      ['steal-passwd', 'firmwareVars', '/etc/passwd'],
      ['steal-token', 'firmwareVars', path.join(dir, 'admin.token')],
      ['steal-code', 'firmwareCode', '/etc/shadow'],
    ]) {
      const res = await asVendor()
        .post('/api/targets')
        .send({ id, extends: 'qemu-aarch64-tcg', [field]: file })
        .expect(403);
      assert.equal(
        res.body.message,
        `only an admin may name a host path in a target profile (${field}: ${file}); name a file the agents' hosts offer instead, e.g. AAVMF_VARS.ms.fd`,
      );
      assert.deepEqual(res.body.errors, [{ path: `body.${field}`, message: 'a host path: admins only' }]);
      await admin().get(`/api/targets/${id}`).expect(404);
    }
  });

  it('refuses a path dressed as a name with 400: names have no directory part', async () => {
    for (const file of ['../../../etc/passwd', 'AAVMF/../../etc/passwd', '.ssh']) {
      const res = await asVendor()
        .post('/api/targets')
        .send({ id: 'dressed', extends: 'qemu-aarch64-tcg', firmwareVars: file })
        .expect(400);
      assert.deepEqual(
        (res.body.errors as { path: string }[]).map((e) => e.path),
        ['body.firmwareVars'],
      );
    }
  });

  it('takes names from a vendor, and a host path from an admin', async () => {
    const named = await asVendor()
      .post('/api/targets')
      .send({ id: 'acme-secure-boot', extends: 'qemu-aarch64-tcg', firmwareVars: 'AAVMF_VARS.ms.fd' })
      .expect(201);
    assert.equal(named.body.firmwareVars, 'AAVMF_VARS.ms.fd');
    assert.equal(named.body.firmwareCode, 'AAVMF_CODE.fd', 'inherited from the bundled base');
    const byAdmin = await admin()
      .post('/api/targets')
      .send({ id: 'lab-firmware', extends: 'qemu-aarch64-tcg', firmwareCode: '/srv/edk2/CODE.fd' })
      .expect(201);
    assert.equal(byAdmin.body.firmwareCode, '/srv/edk2/CODE.fd');
    // A vendor's profile over the admin's inherits the admin's path: the admin chose it.
    await asVendor()
      .post('/api/targets')
      .send({ id: 'acme-lab', extends: 'lab-firmware', smp: 2 })
      .expect(201);
  });
});
