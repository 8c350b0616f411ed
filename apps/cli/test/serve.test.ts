import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { freePort, isAlive, ping } from '@vmfarm/host';
import {
  agentViewSchema,
  exitCodeFor,
  imageReportSchema,
  matrixReportSchema,
  matrixViewSchema,
  tokenViewSchema,
} from '@vmfarm/protocol';
import { buildImage, childrenOf, startServe, vmfarm, VMFARM_BIN, type Serve } from './serve-helpers';

// The farm end to end, every part a real process: `vmfarm serve` (private redis-server, controller
// with SQLite, one agent) and `vmfarm submit` against it. REDIS_URL and DATABASE_URL are cleared on
// purpose: this tests serve's embedded defaults, whatever services the test run has.

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-cli-serve-'));
const data = join(dir, 'data');
let image: string;
let serve: Serve;
let farmPids: { pid: number; comm: string }[] = [];
const env = { ...process.env, REDIS_URL: '', DATABASE_URL: '', VMFARM_TOKEN: '', VMFARM_ADMIN_TOKEN: '' };
/** The CLI finds the farm's admin token in its data directory, as `npm run farm` + `vmfarm submit` do. */
const farmEnv = { ...env, VMFARM_DATA: data };
let admin: string;
/** GET the API as the farm's admin. */
const api = async (url: string) =>
  (await fetch(url, { headers: { authorization: `Bearer ${admin}` } })).json() as Promise<unknown>;

before(async () => {
  image = buildImage(dir);
  serve = await startServe(['--port', String(await freePort()), '--data', data, '--agents', '1'], env);
  farmPids = serve.children();
  admin = readFileSync(join(data, 'admin.token'), 'utf8').trim();
});

after(async () => {
  if (serve.process.exitCode === null) await serve.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('serve says where the farm is, where its data lives and how to submit', async () => {
  const out = serve.stdout.join('\n');
  assert.match(
    out,
    new RegExp(
      `data: {3}${data} \\(SQLite ${join(data, 'vmfarm.sqlite')}; Redis on ${join(data, 'redis', 'redis.sock')} `,
    ),
  );
  assert.match(out, /agents: 1 local \(\S+\)/);
  assert.match(out, new RegExp(`submit: vmfarm submit IMAGE .* --controller ${serve.url}`));
  // The admin token the controller made on its first start: printed, and kept for the CLI (0600).
  assert.match(admin, /^vmf_[\w-]{43}$/);
  assert.ok(out.includes(`admin:  ${admin} (the admin token, in ${join(data, 'admin.token')}`), out);
  assert.equal(statSync(join(data, 'admin.token')).mode & 0o777, 0o600);
  assert.ok(serve.stderr.some((l) => l.includes(`vmfarm admin token: ${admin}`)));
  const unauthenticated = await fetch(`${serve.url}/api/images`);
  assert.equal(unauthenticated.status, 401);
  // A private redis-server, the controller and the agent, each a child of serve.
  assert.deepEqual(farmPids.map((p) => p.comm).sort(), ['node', 'node', 'redis-server']);
  assert.ok(existsSync(join(data, 'redis', 'redis.pid')));
});

test('submit --wait --format json returns a report whose cell carries the same verdicts as check', async () => {
  const r = await vmfarm(
    [
      'submit',
      image,
      '--targets',
      'static',
      '--suites',
      'static',
      '--wait',
      '--format',
      'json',
      '--timeout',
      '300',
    ],
    { ...farmEnv, VMFARM_CONTROLLER: serve.url },
  );
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const report = matrixReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.matrix.state, 'done');
  assert.deepEqual(report.matrix.progress, { done: 1, total: 1 });
  assert.equal(report.cells.length, 1);
  const [cell] = report.cells;
  assert.equal(cell.state, 'done');
  assert.equal(cell.target, 'static');
  assert.equal(cell.suite, 'static');
  // Each cell is an image report of its own.
  imageReportSchema.parse(cell);
  assert.equal(cell.image.sha256, createHash('sha256').update(readFileSync(image)).digest('hex'));
  assert.ok(cell.verdicts.length > 0);
  assert.ok(
    cell.verdicts.every((v) => v.verdict !== 'ERROR'),
    JSON.stringify(cell.verdicts),
  );
  assert.equal(r.code, exitCodeFor(report.summary));

  const local = await vmfarm(['check', image, '--format', 'json'], env);
  assert.ok(local.code === 0 || local.code === 1, `check exit ${local.code}: ${local.stderr}`);
  const checked = imageReportSchema.parse(JSON.parse(local.stdout));
  assert.deepEqual(cell.verdicts, checked.verdicts);
  assert.deepEqual(cell.summary, checked.summary);
  assert.equal(r.code, local.code);

  const junit = await vmfarm(
    ['report', report.matrix.id, '--format', 'junit', '--controller', serve.url],
    farmEnv,
  );
  assert.equal(junit.code, r.code);
  assert.match(junit.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites/);
});

test('a refused matrix lists every error through submit and exits 2', async () => {
  const r = await vmfarm(
    ['submit', image, '--targets', 'static,no-such-target', '--suites', 'no-such-suite'],
    { ...env, VMFARM_CONTROLLER: serve.url, VMFARM_TOKEN: admin },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /vmfarm submit: the matrix was refused \(400\): /);
  assert.match(r.stderr, /no-such-target/);
  assert.match(r.stderr, /no-such-suite/);
});

test('vmfarm token creates, lists and revokes tokens; a vendor sees only its own images', async () => {
  const cli = (...args: string[]) => vmfarm([...args, '--controller', serve.url], farmEnv);
  const made = await cli('token', 'create', '--name', 'acme ci', '--role', 'vendor', '--tenant', 'acme');
  assert.equal(made.code, 0, made.stderr);
  const vendor = made.stdout.trim();
  assert.match(vendor, /^vmf_[\w-]{43}$/);
  assert.match(made.stderr, /^token \S+ 'acme ci' \(vendor, tenant acme\); it is shown only now:\n$/);
  const refused = await cli('token', 'create', '--name', 'x', '--role', 'vendor');
  assert.equal(refused.code, 2);
  assert.equal(
    refused.stderr,
    'vmfarm token: the token was refused (400): invalid request: body.tenant: a vendor token needs a tenant; other roles take none\n' +
      '  body.tenant: a vendor token needs a tenant; other roles take none\n',
  );

  const vendorEnv = { ...env, VMFARM_CONTROLLER: serve.url, VMFARM_TOKEN: vendor };
  assert.equal(
    (await vmfarm(['token', 'list'], vendorEnv)).stderr,
    'vmfarm token: the controller refused the token: a vendor token may not call GET /api/tokens\n',
  );
  // The admin uploaded this image earlier, so it is public: the vendor may use it. Its matrix is
  // the vendor's own, which another vendor cannot see.
  const submitted = await vmfarm(['submit', image, '--targets', 'static', '--suites', 'static'], vendorEnv);
  assert.equal(submitted.code, 0, submitted.stderr);
  const matrix = submitted.stdout.trim();
  const other = await cli('token', 'create', '--name', 'globex ci', '--role', 'vendor', '--tenant', 'globex');
  const otherEnv = { ...vendorEnv, VMFARM_TOKEN: other.stdout.trim() };
  const hidden = await vmfarm(['report', matrix], otherEnv);
  assert.equal(hidden.code, 2);
  assert.equal(
    hidden.stderr,
    `vmfarm report: the report of matrix ${matrix} was refused (404): no matrix ${matrix}\n`,
  );

  const list = await cli('token', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID +NAME +ROLE +TENANT +CREATED +LAST USED +REVOKED\n/);
  assert.match(list.stdout, /acme ci +vendor +acme /);
  assert.match(list.stdout, /vmfarm serve agents +agent +- /);
  assert.ok(!list.stdout.includes('vmf_'), 'no secret is listed');
  const id = /^(\S+) +acme ci /m.exec(list.stdout)![1];
  const revoked = await cli('token', 'revoke', id);
  assert.equal(revoked.code, 0, revoked.stderr);
  const after = await vmfarm(['report', matrix], vendorEnv);
  assert.equal(after.code, 2);
  assert.equal(after.stderr, 'vmfarm report: the controller refused the token: invalid or revoked token\n');
});

test('vmfarm agent runs an agent in the foreground; SIGTERM stops it with exit code 0', async () => {
  const noToken = await vmfarm(['agent', '--controller', serve.url], env);
  assert.equal(noToken.code, 2);
  assert.equal(noToken.stderr, 'vmfarm agent: no token: set VMFARM_TOKEN or pass --token\n');
  const made = await vmfarm(
    ['token', 'create', '--name', 'extra', '--role', 'agent', '--controller', serve.url],
    farmEnv,
  );
  assert.equal(made.code, 0, made.stderr);
  const agent = spawn(
    process.execPath,
    [VMFARM_BIN, 'agent', '--controller', serve.url, '--name', 'extra', '--token', made.stdout.trim()],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exit = new Promise<number | null>((resolve) => agent.once('exit', resolve));
  const ready = await new Promise<string>((resolve) =>
    createInterface({ input: agent.stdout! }).on('line', (line) => /ready/.test(line) && resolve(line)),
  );
  const id = /^vmfarm agent (\S+) ready \(kinds: static(?:, qemu)?(?:, emulator)?\)$/.exec(ready)?.[1];
  assert.ok(id, ready);
  const agents = agentViewSchema.array().parse(await api(`${serve.url}/api/agents`));
  assert.deepEqual(
    agents.filter((a) => a.id === id).map((a) => [a.name, a.online]),
    [['extra', true]],
  );
  const [child] = childrenOf(agent.pid!);
  assert.ok(child && isAlive(child.pid));
  agent.kill('SIGTERM');
  assert.equal(await exit, 0);
  assert.equal(isAlive(child.pid), false);
});

test('SIGTERM stops agents, controller and redis: no process is left', async () => {
  assert.equal(await serve.stop(), 0);
  for (const { pid, comm } of farmPids)
    assert.equal(isAlive(pid), false, `${comm} (pid ${pid}) is still running`);
  assert.equal(existsSync(join(data, 'redis', 'redis.pid')), false);
  assert.ok(existsSync(join(data, 'vmfarm.sqlite')));
});

test('queued runs survive a restart of serve (Redis append-only file, SQLite)', async () => {
  const port = String(await freePort());
  const idle = await startServe(['--port', port, '--data', data, '--agents', '0'], env);
  let id: string;
  try {
    const r = await vmfarm(['submit', image, '--targets', 'static', '--suites', 'static'], {
      ...farmEnv,
      VMFARM_CONTROLLER: idle.url,
    });
    assert.equal(r.code, 0, r.stderr);
    id = r.stdout.trim();
  } finally {
    assert.equal(await idle.stop(), 0);
  }
  const working = await startServe(['--port', port, '--data', data, '--agents', '1'], env);
  try {
    // The run was only in the queue when the farm stopped; an agent of the new farm runs it.
    let state = '';
    for (let polls = 0; polls < 1200 && state !== 'done'; polls++) {
      if (polls) await new Promise((resolve) => setTimeout(resolve, 250));
      state = matrixViewSchema.parse(await api(`${working.url}/api/matrices/${id}`)).state;
    }
    assert.equal(state, 'done');
    const r = await vmfarm(['report', id, '--format', 'json', '--controller', working.url], farmEnv);
    assert.equal(matrixReportSchema.parse(JSON.parse(r.stdout)).cells[0].state, 'done');
    // The same admin token across restarts; each serve's agents' token is revoked when it stops.
    assert.equal(readFileSync(join(data, 'admin.token'), 'utf8').trim(), admin);
    const tokens = tokenViewSchema.array().parse(await api(`${working.url}/api/tokens`));
    const agentTokens = tokens.filter((t) => t.name === 'vmfarm serve agents');
    assert.equal(agentTokens.length, 2, 'one per serve with agents');
    assert.deepEqual(
      agentTokens.map((t) => t.revokedAt === null),
      [false, true],
    );
  } finally {
    assert.equal(await working.stop(), 0);
  }
});

test('when a part of the farm dies, serve stops the rest and exits 3', async () => {
  const farm = await startServe(
    ['--port', String(await freePort()), '--data', join(dir, 'dies'), '--agents', '1'],
    env,
  );
  const pids = farm.children();
  const agent = pids.find((p) => readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('apps/agent/'));
  assert.ok(agent, JSON.stringify(pids));
  process.kill(agent.pid, 'SIGKILL');
  const code = await new Promise((resolve) => farm.process.once('exit', resolve));
  assert.equal(code, 3);
  assert.ok(
    farm.stderr.includes('vmfarm serve: agent-1 was killed by SIGKILL; stopping the farm'),
    farm.stderr.join('\n'),
  );
  for (const { pid, comm } of pids)
    assert.equal(isAlive(pid), false, `${comm} (pid ${pid}) is still running`);
});

/** One command to serve's private Redis, as any local user could send it (with the password). */
function redisCommand(path: string, password: string, ...words: string[]): Promise<string> {
  const encode = (w: string[]) =>
    `*${w.length}\r\n${w.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    let answer = '';
    socket.once('error', reject);
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.once('connect', () => socket.write(encode(['AUTH', password]) + encode(words) + encode(['QUIT'])));
    socket.once('close', () => resolve(answer));
  });
}

/** Polls (the test's timeout bounds it: no timing assertion). */
async function until<T>(check: () => Promise<T | false>): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const health = async (url: string) => {
  const res = await fetch(`${url}/api/health`);
  return { status: res.status, body: (await res.json()) as { ok: boolean; redis: string; database: string } };
};

const exitOf = (farm: Serve) =>
  farm.process.exitCode !== null
    ? Promise.resolve(farm.process.exitCode)
    : new Promise<number | null>((resolve) => farm.process.once('exit', resolve));

test(
  'serve restarts its Redis once when it dies (the queue survives), and stops the farm when it dies again',
  { timeout: 600_000 },
  async () => {
    const farmData = join(dir, 'redis-dies');
    const farm = await startServe(
      ['--port', String(await freePort()), '--data', farmData, '--agents', '1'],
      env,
    );
    const pids = farm.children();
    const farmEnv2 = { ...env, VMFARM_DATA: farmData, VMFARM_CONTROLLER: farm.url };
    const submit = async () => {
      const r = await vmfarm(
        ['submit', image, '--targets', 'static', '--suites', 'static', '--wait', '--format', 'json'],
        farmEnv2,
      );
      assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
      return matrixReportSchema.parse(JSON.parse(r.stdout));
    };
    const before = await submit();
    const runId = before.cells[0].runId;
    const redisPid = () => pids.find((p) => p.comm === 'redis-server')!.pid;
    const socket = join(farmData, 'redis', 'redis.sock');
    assert.ok(farm.stdout.join('\n').includes(`Redis on ${socket} `), farm.stdout.join('\n'));
    // A unix socket only: no TCP port of Redis's own.
    assert.equal(statSync(socket).mode & 0o777, 0o700);
    const password = /^requirepass (\S+)$/m.exec(
      readFileSync(join(farmData, 'redis', 'redis.conf'), 'utf8'),
    )![1];
    assert.ok(!farm.stdout.join('\n').includes(password), 'the password is not printed');
    // Without the password, Redis answers nothing but NOAUTH.
    assert.match(await ping(socket), /^-NOAUTH/);
    const jobKeys = async () => redisCommand(socket, password, 'KEYS', `*:${runId}`);
    assert.match(await jobKeys(), new RegExp(`:${runId}\r\n`));

    // serve held still: Redis is dead and health says so.
    process.kill(farm.process.pid!, 'SIGSTOP');
    process.kill(redisPid(), 'SIGKILL');
    const down = await until(async () => {
      const h = await health(farm.url);
      return h.status === 503 && h;
    });
    assert.equal(down.body.database, 'ok');
    assert.notEqual(down.body.redis, 'ok');
    process.kill(farm.process.pid!, 'SIGCONT');

    await until(async () =>
      farm.stderr.some((l) => /^vmfarm serve: redis-server restarted \(pid \d+\)/.test(l)),
    );
    assert.ok(
      farm.stderr.includes(
        `vmfarm serve: redis-server was killed by SIGKILL; restarting it (${socket}, the same append-only file)`,
      ),
      farm.stderr.join('\n'),
    );
    await until(async () => (await health(farm.url)).status === 200);
    // The append-only file brought the finished job back; the agent takes new runs.
    assert.match(await jobKeys(), new RegExp(`:${runId}\r\n`));
    const after = await submit();
    assert.equal(after.matrix.state, 'done');

    const again = farm.children().find((p) => p.comm === 'redis-server')!;
    assert.notEqual(again.pid, redisPid());
    process.kill(again.pid, 'SIGKILL');
    assert.equal(await exitOf(farm), 3);
    assert.ok(
      farm.stderr.includes(
        'vmfarm serve: redis-server was killed by SIGKILL again within 10 minutes of its restart; stopping the farm',
      ),
      farm.stderr.join('\n'),
    );
    for (const { pid, comm } of farm.children()) assert.fail(`${comm} (pid ${pid}) is still running`);
    for (const { pid, comm } of pids)
      assert.equal(isAlive(pid), false, `${comm} (pid ${pid}) is still running`);
  },
);

test(
  'a Redis that cannot be restarted stops the farm with the reason and exit 3',
  { timeout: 300_000 },
  async () => {
    const farmData = join(dir, 'redis-broken');
    const farm = await startServe(
      ['--port', String(await freePort()), '--data', farmData, '--agents', '1'],
      env,
    );
    const pids = farm.children();
    process.kill(farm.process.pid!, 'SIGSTOP');
    process.kill(pids.find((p) => p.comm === 'redis-server')!.pid, 'SIGKILL');
    // A manifest Redis cannot read: it refuses to start rather than lose the queue.
    const aofDir = join(farmData, 'redis', 'appendonlydir');
    for (const f of readdirSync(aofDir))
      if (f.endsWith('.manifest')) writeFileSync(join(aofDir, f), 'not a manifest\n');
    process.kill(farm.process.pid!, 'SIGCONT');
    assert.equal(await exitOf(farm), 3);
    const at = farm.stderr.findIndex((l) =>
      l.startsWith('vmfarm serve: redis-server was killed by SIGKILL and could not be restarted: '),
    );
    assert.ok(at >= 0, farm.stderr.join('\n'));
    // The reason, then the tail of Redis's log saying why.
    const said = farm.stderr.slice(at).join('\n');
    assert.match(said, /could not be restarted: redis-server exited with code 1 before it answered PING; /);
    assert.match(said, /manifest/i);
    assert.match(said, /; stopping the farm$/m);
    for (const { pid, comm } of pids)
      assert.equal(isAlive(pid), false, `${comm} (pid ${pid}) is still running`);
  },
);

test(
  "serve's data is private (0700 directories, 0600 files), and a killed serve's agent token is revoked at the next start",
  { timeout: 300_000 },
  async () => {
    const farmData = join(dir, 'private');
    const port = String(await freePort());
    const first = await startServe(['--port', port, '--data', farmData, '--agents', '1'], env);
    const pids = first.children();
    const r = await vmfarm(['submit', image, '--targets', 'static', '--suites', 'static', '--wait'], {
      ...env,
      VMFARM_DATA: farmData,
      VMFARM_CONTROLLER: first.url,
    });
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    const open: string[] = [];
    const walk = (path: string) => {
      const st = lstatSync(path);
      if ((st.mode & 0o077) !== 0) open.push(`${path} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
    };
    walk(farmData);
    assert.deepEqual(open, []);
    assert.equal(statSync(farmData).mode & 0o777, 0o700);
    assert.equal(statSync(join(farmData, 'vmfarm.sqlite')).mode & 0o777, 0o600);

    // The whole farm killed at once (the OOM killer, a power cut): nobody revoked the agents' token.
    const token = readFileSync(join(farmData, 'serve-agents.token-id'), 'utf8').trim();
    first.process.kill('SIGKILL');
    for (const { pid } of pids) process.kill(pid, 'SIGKILL');
    await exitOf(first);
    await until(async () => pids.every((p) => !isAlive(p.pid)));
    const second = await startServe(['--port', port, '--data', farmData, '--agents', '1'], env);
    try {
      assert.ok(
        second.stderr.includes(
          `vmfarm serve: revoked the agents' token ${token} of a serve that did not stop cleanly`,
        ),
        second.stderr.join('\n'),
      );
      const tokens = tokenViewSchema.array().parse(
        await (
          await fetch(`${second.url}/api/tokens`, {
            headers: {
              authorization: `Bearer ${readFileSync(join(farmData, 'admin.token'), 'utf8').trim()}`,
            },
          })
        ).json(),
      );
      const agentTokens = tokens.filter((t) => t.name === 'vmfarm serve agents');
      assert.ok(agentTokens.find((t) => t.id === token)?.revokedAt, JSON.stringify(agentTokens));
      assert.equal(agentTokens.filter((t) => t.revokedAt === null).length, 1, "only the running serve's");
    } finally {
      assert.equal(await second.stop(), 0);
    }
    assert.equal(existsSync(join(farmData, 'serve-agents.token-id')), false);
  },
);
