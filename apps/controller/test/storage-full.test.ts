import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { toApiError } from '../src/http/api-exception.filter';
import type { Db } from '../src/store/database';
import { DB } from '../src/store/tokens';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { FakeScheduler, LocalEventBus } from './helpers/fakes';
import { requireEnv, tempDir, uniqueName } from './helpers/env';

describe('a full disk', () => {
  it('is a 507 naming the storage, not an internal error (ENOSPC)', () => {
    // /dev/full answers every write with ENOSPC: the error a full data directory gives.
    let enospc: unknown;
    try {
      writeFileSync('/dev/full', 'x');
    } catch (err) {
      enospc = err;
    }
    assert.equal((enospc as NodeJS.ErrnoException).code, 'ENOSPC');
    const api = toApiError(enospc);
    assert.equal(api.status, 507);
    assert.equal(api.message, "the controller's storage is full (ENOSPC); try again once space is freed");
    assert.equal(toApiError(new Error('boom')).status, 500);
  });

  describe('under the real controller, SQLite full', () => {
    let farm: RunningController;
    let dir: string;
    before(async () => {
      dir = tempDir('storage-full');
      farm = await bootstrap(
        resolveConfig({
          redisUrl: requireEnv('REDIS_URL'),
          dataDir: path.join(dir, 'data'),
          queuePrefix: uniqueName('full'),
          adminToken: ADMIN_TOKEN,
          port: 0,
        }),
        { scheduler: new FakeScheduler(), eventBus: new LocalEventBus() },
      );
    });
    after(async () => {
      await farm.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers 507 while the database cannot grow, and works again once it can', async () => {
      const db = farm.app.get<Db>(DB);
      const admin = () => authed(farm.url, ADMIN_TOKEN);
      // SQLite's page limit gives the error a full disk gives it (SQLITE_FULL) on the real write path.
      const { rows } = await sql<{ page_count: number }>`PRAGMA page_count`.execute(db);
      await sql.raw(`PRAGMA max_page_count = ${rows[0].page_count}`).execute(db);
      let full;
      for (let i = 0; i < 2000 && !full; i++) {
        const res = await admin()
          .post('/api/tokens')
          .send({ name: `t${i} ${'x'.repeat(90)}`, role: 'viewer' });
        if (res.status !== 201) full = res;
      }
      assert.ok(full, 'the database never filled up');
      assert.equal(full.status, 507, full.text);
      assert.equal(
        full.body.message,
        "the controller's storage is full (SQLITE_FULL); try again once space is freed",
      );
      await sql.raw('PRAGMA max_page_count = 1073741823').execute(db);
      await admin().post('/api/tokens').send({ name: 'after', role: 'viewer' }).expect(201);
    });
  });
});
