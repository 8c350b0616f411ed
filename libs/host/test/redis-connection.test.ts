import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { HostError, redisConnection, startRedis, type RedisServer } from '../src';

const root = mkdtempSync(join(tmpdir(), 'vmfarm-host-redis-conn-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes a key through the options the helper made, reads it back through a second connection. */
async function roundTrip(url: string, key: string): Promise<string | null> {
  const writer = new Redis({ ...redisConnection(url), lazyConnect: true });
  const reader = new Redis({ ...redisConnection(url), lazyConnect: true });
  try {
    await writer.connect();
    await reader.connect();
    await writer.set(key, url, 'EX', 60);
    return await reader.get(key);
  } finally {
    writer.disconnect();
    reader.disconnect();
  }
}

/** The error a command gets through the URL's options, without retries; null when it succeeds. */
async function commandError(url: string): Promise<string | null> {
  const client = new Redis({
    ...redisConnection(url),
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.get('vmfarm:auth');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    client.disconnect();
  }
}

describe('redisConnection parses every URL form', () => {
  test('redis:// with user, password, port and database', () => {
    assert.deepEqual(redisConnection('redis://farm:p%40ss@redis.example:6380/4'), {
      host: 'redis.example',
      port: 6380,
      username: 'farm',
      password: 'p@ss',
      db: 4,
      tls: undefined,
      maxRetriesPerRequest: null,
    });
  });

  test('rediss:// turns TLS on; defaults are port 6379 and no database', () => {
    const c = redisConnection('rediss://:secret@[::1]');
    assert.deepEqual(
      [c.host, c.port, c.username, c.password, c.db, c.tls],
      ['::1', 6379, undefined, 'secret', undefined, {}],
    );
  });

  test('redis+unix:// and unix:// take the socket path, database and password as parameters', () => {
    assert.deepEqual(redisConnection('redis+unix:///run/vmfarm/redis.sock?db=2&password=a%26b'), {
      path: '/run/vmfarm/redis.sock',
      username: undefined,
      password: 'a&b',
      db: 2,
      maxRetriesPerRequest: null,
    });
    const c = redisConnection('unix:///tmp/r.sock');
    assert.deepEqual([c.path, c.host, c.port, c.db], ['/tmp/r.sock', undefined, undefined, undefined]);
  });

  test('refuses what it cannot connect to, without echoing the password', () => {
    for (const [url, message] of [
      ['http://x:6379', /unknown scheme 'http:'/],
      ['redis://x/two', /database 'two' is not a non-negative integer/],
      ['redis+unix://host/tmp/r.sock', /names an absolute path and no host/],
      ['redis://user:hunter2@x/-1', /redis:\/\/user:\*\*\*@x\/-1/],
      ['unix:///tmp/r.sock?password=hunter2&db=x', /password=\*\*\*/],
      ['not a url', /is not a URL/],
    ] as const) {
      assert.throws(
        () => redisConnection(url),
        (err: Error) => err instanceof HostError && message.test(err.message) && !/hunter2/.test(err.message),
        url,
      );
    }
  });
});

describe('redisConnection reaches a real Redis', () => {
  let tcp: RedisServer;
  let unix: RedisServer;
  before(async () => {
    tcp = await startRedis({ dataDir: join(root, 'tcp') });
    unix = await startRedis({ dataDir: join(root, 'unix'), unixSocket: join(root, 'redis.sock') });
  });
  after(async () => {
    await tcp?.stop();
    await unix?.stop();
  });

  test('over TCP, in the database the URL names', async () => {
    assert.equal(await roundTrip(`${tcp.url}/3`, 'vmfarm:conn'), `${tcp.url}/3`);
    const db0 = new Redis(redisConnection(tcp.url));
    try {
      assert.equal(await db0.get('vmfarm:conn'), null);
    } finally {
      db0.disconnect();
    }
  });

  test('over a unix socket only its owner can open, with redis+unix:// and unix://', async () => {
    assert.equal(unix.port, 0);
    assert.equal(unix.url, `redis+unix://${join(root, 'redis.sock')}`);
    assert.equal(statSync(unix.unixSocket!).mode & 0o777, 0o700);
    assert.equal(await roundTrip(unix.url, 'vmfarm:conn'), unix.url);
    const plain = `unix://${unix.unixSocket}?db=5`;
    assert.equal(await roundTrip(plain, 'vmfarm:conn'), plain);
  });

  test('a socket path longer than Linux takes is refused before redis-server starts', async () => {
    const long = join(root, 'd'.repeat(120), 'redis.sock');
    await assert.rejects(
      startRedis({ dataDir: join(root, 'long'), unixSocket: long }),
      (err: Error) => err instanceof HostError && /bytes long; at most 107 fit/.test(err.message),
    );
  });

  test('with a password: the right one is let in, a missing one is refused', async () => {
    const admin = new Redis(redisConnection(unix.url));
    try {
      await admin.config('SET', 'requirepass', 's3cret/&');
      const url = `unix://${unix.unixSocket}?password=${encodeURIComponent('s3cret/&')}`;
      assert.equal(await roundTrip(url, 'vmfarm:auth'), url);
      assert.match((await commandError(unix.url)) ?? 'no error', /NOAUTH/);
      const tcpAuth = new Redis(redisConnection(tcp.url));
      try {
        await tcpAuth.config('SET', 'requirepass', 'tcp:pw@');
        const withPw = tcp.url.replace('redis://', `redis://:${encodeURIComponent('tcp:pw@')}@`);
        assert.equal(await roundTrip(withPw, 'vmfarm:auth'), withPw);
      } finally {
        tcpAuth.disconnect();
      }
    } finally {
      admin.disconnect();
    }
  });
});
