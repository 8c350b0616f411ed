import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { requireEnv, tempDir, uniqueName } from './helpers/env';

const MAIN = path.resolve(__dirname, '../src/main.js');

describe('controller process', () => {
  it('prints exactly the listening line on stdout, serves, and exits 0 on SIGTERM', async () => {
    const dir = tempDir('main');
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        REDIS_URL: requireEnv('REDIS_URL'),
        PORT: '0',
        VMFARM_DATA: dir,
        VMFARM_QUEUE_PREFIX: uniqueName('main'),
        DATABASE_URL: '',
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
      assert.ok(fs.existsSync(path.join(dir, 'vmfarm.sqlite')), 'default SQLite file in the data dir');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.equal(stdout.split('\n').filter(Boolean).length, 1, stdout);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
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
