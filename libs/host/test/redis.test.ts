import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HostError, freePort, isAlive, ping, sleep, startRedis, which } from '../src';

const root = mkdtempSync(join(tmpdir(), 'vmfarm-host-redis-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** One inline command over a raw socket; resolves with everything Redis answered within a moment. */
function send(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let answer = '';
    socket.once('error', reject);
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.once('connect', () => socket.write(`${line}\r\nQUIT\r\n`));
    socket.once('close', () => resolve(answer));
  });
}

/** A liveness bound, not a speed assertion: fails instead of hanging the run. */
async function eventually(
  what: string,
  condition: () => boolean | Promise<boolean>,
  ms = 15000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, `gave up waiting until ${what}`);
    await sleep(20);
  }
}

async function refused(port: number): Promise<boolean> {
  return ping(port).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  );
}

test('starts a private redis-server that answers PING, and stop leaves no process', async () => {
  const dataDir = join(root, 'plain');
  const redis = await startRedis({ dataDir });
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await ping(redis.port), '+PONG');
  assert.equal(readFileSync(join(dataDir, 'redis.pid'), 'utf8').split(' ')[0], String(redis.pid));
  await redis.stop();
  assert.equal(isAlive(redis.pid), false);
  assert.equal(existsSync(join(dataDir, 'redis.pid')), false);
  assert.equal(await refused(redis.port), true);
});

test('with AOF persistence a key survives a stop and a start on the same data dir', async () => {
  const dataDir = join(root, 'aof');
  const first = await startRedis({ dataDir, persistence: 'aof' });
  assert.match(await send(first.port, 'SET vmfarm:probe kept'), /^\+OK/);
  await first.stop();
  const second = await startRedis({ dataDir, persistence: 'aof' });
  try {
    assert.match(await send(second.port, 'GET vmfarm:probe'), /^\$4\r\nkept\r\n/);
  } finally {
    await second.stop();
  }
  assert.equal(existsSync(join(dataDir, 'appendonlydir')), true);
});

test('without persistence nothing survives a restart', async () => {
  const dataDir = join(root, 'volatile');
  const first = await startRedis({ dataDir });
  await send(first.port, 'SET vmfarm:probe gone');
  await first.stop();
  const second = await startRedis({ dataDir });
  try {
    assert.match(await send(second.port, 'GET vmfarm:probe'), /^\$-1\r\n/);
  } finally {
    await second.stop();
  }
});

test('a stale pidfile naming a dead process is replaced', async () => {
  const dataDir = join(root, 'stale');
  const redis0 = await startRedis({ dataDir });
  await redis0.stop();
  // A pid that is certainly gone: a child that has exited.
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => dead.once('exit', resolve));
  writeFileSync(join(dataDir, 'redis.pid'), `${dead.pid} ${dead.pid}\n`);
  const redis = await startRedis({ dataDir });
  try {
    assert.equal(await ping(redis.port), '+PONG');
    assert.equal(readFileSync(join(dataDir, 'redis.pid'), 'utf8'), `${redis.pid} ${process.pid}\n`);
  } finally {
    await redis.stop();
  }
});

test('a redis-server left running by a crashed owner is stopped on the next start', async () => {
  const dataDir = join(root, 'leftover');
  const first = await startRedis({ dataDir });
  await first.stop();
  // What a crash leaves where setpriv is missing: a redis-server in the data dir whose owner is gone.
  const port = await freePort();
  const orphan = spawn(
    which('redis-server')!,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--save', ''],
    { stdio: 'ignore', cwd: dataDir },
  );
  await eventually('the orphan answers', async () => (await ping(port).catch(() => '')) === '+PONG');
  const deadOwner = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => deadOwner.once('exit', resolve));
  writeFileSync(join(dataDir, 'redis.pid'), `${orphan.pid} ${deadOwner.pid}\n`);

  const said: string[] = [];
  const redis = await startRedis({ dataDir, log: (line) => said.push(line) });
  try {
    assert.equal(isAlive(orphan.pid!), false);
    assert.match(said.join('\n'), new RegExp(`redis-server \\(pid ${orphan.pid}\\) left running`));
    assert.equal(await ping(redis.port), '+PONG');
  } finally {
    await redis.stop();
  }
});

test('a data dir whose redis-server still has its owner is refused', async () => {
  const dataDir = join(root, 'busy');
  const redis = await startRedis({ dataDir });
  try {
    await assert.rejects(startRedis({ dataDir }), (err: Error) => {
      assert.ok(err instanceof HostError);
      assert.match(err.message, /is in use by a running redis-server/);
      return true;
    });
    assert.equal(await ping(redis.port), '+PONG');
  } finally {
    await redis.stop();
  }
});

test(
  'a SIGKILLed owner takes its redis-server with it',
  { skip: !which('setpriv') && 'no setpriv' },
  async () => {
    const dataDir = join(root, 'crash');
    const owner = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(__dirname, '..', 'src'))}).startRedis({ dataDir: ${JSON.stringify(dataDir)} })` +
          '.then((r) => { console.log(r.pid); setInterval(() => {}, 1000); })',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const pid = Number(
      await new Promise<string>((resolve) => owner.stdout!.once('data', (d) => resolve(String(d)))),
    );
    assert.equal(isAlive(pid), true);
    owner.kill('SIGKILL');
    await eventually('redis-server is gone', () => !isAlive(pid));
    // And the pidfile it left is reaped without complaint on the next start.
    const redis = await startRedis({ dataDir });
    await redis.stop();
  },
);

test('without redis-server and without root, says exactly what to install', async () => {
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(join(__dirname, '..', 'src'))}).ensureRedisServer()` +
        '.then((p) => console.log("found " + p), (e) => console.log(e.name + ": " + e.message))',
    ],
    { env: { PATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'inherit'], cwd: '/', ...asNobody },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await new Promise((resolve) => child.once('close', resolve));
  assert.equal(
    out,
    'HostError: redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install -y redis-server) ' +
      'or set REDIS_URL to a Redis you run\n',
  );
});

test('with a password, clients must AUTH; the password is in a 0600 file, not in the process list', async () => {
  const dataDir = join(root, 'password');
  const password = 'p4ss_w-rd';
  const redis = await startRedis({ dataDir, password });
  try {
    assert.equal(redis.url, `redis://:${password}@127.0.0.1:${redis.port}`);
    assert.match(await ping(redis.port), /^-NOAUTH/);
    assert.match(await ping(redis.port, '127.0.0.1', 1000, 'wrong'), /^-(WRONGPASS|ERR)/);
    assert.equal(await ping(redis.port, '127.0.0.1', 1000, password), '+PONG');
    assert.equal(statSync(join(dataDir, 'redis.conf')).mode & 0o777, 0o600);
    assert.ok(!readFileSync(`/proc/${redis.pid}/cmdline`, 'utf8').includes(password));
  } finally {
    await redis.stop();
  }
  assert.deepEqual(await redis.exited, { code: 0, signal: null });
});
