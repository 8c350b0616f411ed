import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { requireEnv, tempDir, uniqueName } from './helpers/env';

const MAIN = path.resolve(__dirname, '../src/main.js');

describe('controller process', () => {
  it('prints exactly the listening line on stdout, the first admin token once on stderr, serves, and exits 0 on SIGTERM', async () => {
    const dir = tempDir('main');
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        REDIS_URL: requireEnv('REDIS_URL'),
        PORT: '0',
        VMFARM_DATA: dir,
        VMFARM_QUEUE_PREFIX: uniqueName('main'),
        DATABASE_URL: '',
        VMFARM_ADMIN_TOKEN: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /^vmfarm controller listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout);
          if (m) resolve(m[1]);
        });
        void exited.then((code) => reject(new Error(`controller exited ${code}: ${stderr}`)));
      });
      const health = (await (await fetch(`${url}/api/health`)).json()) as { ok: boolean };
      assert.equal(health.ok, true);
      // The first start makes an admin token: printed once, kept in the data dir for this host only.
      const file = path.join(dir, 'admin.token');
      const token = fs.readFileSync(file, 'utf8').trim();
      assert.match(token, /^vmf_[\w-]{43}$/);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.ok(stderr.includes(`vmfarm admin token: ${token} (shown once; also in ${file})\n`), stderr);
      const images = (token?: string) =>
        fetch(`${url}/api/images`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      assert.equal((await images()).status, 401);
      assert.equal((await images(token)).status, 200);
      assert.ok(fs.existsSync(path.join(dir, 'vmfarm.sqlite')), 'default SQLite file in the data dir');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.equal(stdout.split('\n').filter(Boolean).length, 1, stdout);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a malformed VMFARM_ADMIN_TOKEN, in one line', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', VMFARM_ADMIN_TOKEN: 'secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.notEqual(code, 0);
    assert.equal(
      stderr,
      'vmfarm controller: VMFARM_ADMIN_TOKEN must be a vmfarm token: vmf_ and 43 base64url characters\n',
    );
  });

  it('refuses to start without REDIS_URL, in one line', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.notEqual(code, 0);
    assert.equal(stderr, 'vmfarm controller: REDIS_URL is required (e.g. redis://127.0.0.1:6379)\n');
  });
});
