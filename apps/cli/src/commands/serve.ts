import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describeExit, startChild, startRedis, type RedisServer, type Supervised } from '@vmfarm/host';
import { ApiRequestError, EXIT } from '@vmfarm/protocol';
import { appEntry } from '../apps';
import { ControllerClient } from '../client';
import { CommandError, reported } from '../failure';
import { parse, UsageError } from '../usage';

/** A Redis that dies again this soon after its restart is not restarted again: the farm stops. */
const RESTART_WINDOW_MS = 10 * 60_000;

/** sockaddr_un holds 108 bytes with the terminating NUL; a little margin for other systems. */
const MAX_SOCKET_PATH = 100;

/** Where serve keeps the id of its agents' token while it runs (so a crashed serve's is revoked). */
const AGENT_TOKEN_FILE = 'serve-agents.token-id';

const HELP = `usage: vmfarm serve [--port N] [--host H] [--data DIR] [--agents N]

Runs a whole farm on this machine: the controller, N local agents and, unless REDIS_URL is set,
a private redis-server on a unix socket in DIR/redis with a password of this run (append-only
file there, so queued runs survive a restart; if it dies, serve restarts it once).
Results go to SQLite at DIR/vmfarm.sqlite unless DATABASE_URL (postgres://...) is set.
On first start the controller makes an admin token and writes it to DIR/admin.token (0600), where
the CLI finds it; serve prints it, and gives its agents an agent token of their own.
Ctrl-C or SIGTERM stops the agents, the controller and redis, in that order. When a part dies
(redis a second time within ${RESTART_WINDOW_MS / 60000} minutes, or it cannot be restarted), serve stops
the rest and exits 3. DIR is the farm's alone: 0700, its files 0600. The agents' token of a serve
that did not stop cleanly is revoked at the next start.

  --port N     the controller's HTTP port (default 8700; 0 picks a free one)
  --host H     the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --data DIR   where the farm keeps its data (default ./.vmfarm)
  --agents N   local agents to start (default 1; 0 for none)

Environment: REDIS_URL, DATABASE_URL, VMFARM_QUEUE_PREFIX, VMFARM_ADMIN_TOKEN (an admin token to
use instead of DIR/admin.token) are passed to the controller.
`;

/** Migrations and a loaded 2-core host can make start-up slow; a hung start still ends. */
const READY_TIMEOUT_MS = 60000;

function integer(flag: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new UsageError(`--${flag} must be an integer from 0 to ${max} (got '${value}')`);
  return n;
}

/** The admin token: VMFARM_ADMIN_TOKEN, else the one the controller wrote on its first start. */
function adminToken(data: string): string {
  if (process.env.VMFARM_ADMIN_TOKEN) return process.env.VMFARM_ADMIN_TOKEN;
  const file = join(data, 'admin.token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CommandError(
      `cannot read the admin token ${file} (${(err as NodeJS.ErrnoException).code}): set VMFARM_ADMIN_TOKEN to an admin token of this farm`,
      EXIT.usage,
    );
  }
}

/** A Redis URL as it may be printed. */
function redactPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/**
 * The agents' token a serve made and did not get to revoke (it was killed, or the controller was
 * gone when it stopped): revoked now, before anything else can use it.
 */
async function revokeLeftoverToken(
  client: ControllerClient,
  file: string,
  say: (line: string) => void,
): Promise<void> {
  let id: string;
  try {
    id = readFileSync(file, 'utf8').trim();
  } catch {
    return;
  }
  try {
    await client.api.revokeToken({ params: { id } });
    say(`revoked the agents' token ${id} of a serve that did not stop cleanly`);
  } catch (err) {
    // Unknown to this database (another one was used before): nothing left to revoke.
    if (!(err instanceof ApiRequestError && err.status === 404))
      throw client.failure(err, `the agents' token ${id} an earlier serve left`);
  }
  rmSync(file, { force: true });
}

/** The URL a local client uses: a wildcard listen address is reached through loopback. */
function localUrl(url: string): string {
  const [, scheme, host, port] = /^(https?):\/\/(.*):(\d+)$/.exec(url) ?? [];
  if (!port) return url;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]';
  return `${scheme}://${wildcard ? '127.0.0.1' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

export async function serve(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      agents: { type: 'string' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const port = integer('port', values.port as string | undefined, 8700, 65535);
  const agents = integer('agents', values.agents as string | undefined, 1, 64);
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  const data = resolve((values.data as string | undefined) ?? '.vmfarm');

  return reported('serve', async () => {
    const controllerMain = appEntry('controller');
    const agentMain = agents > 0 ? appEntry('agent') : '';
    // Everything serve and its children write (SQLite, images, artifacts, Redis's files) is private.
    process.umask(0o077);
    try {
      mkdirSync(data, { recursive: true });
      chmodSync(data, 0o700);
    } catch (err) {
      throw new CommandError(
        `cannot create the data directory ${data}: ${(err as Error).message}`,
        EXIT.usage,
      );
    }

    // Started in order (redis, controller, agents), stopped in reverse.
    let redis: RedisServer | undefined;
    let controller: Supervised | undefined;
    const agentProcesses: Supervised[] = [];
    let agentToken: { client: ControllerClient; id: string; file: string } | undefined;

    let signalled: (signal: NodeJS.Signals) => void = () => {};
    const signal = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
    const onSignal = (s: NodeJS.Signals) => signalled(s);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);

    const say = (line: string) => process.stderr.write(`vmfarm serve: ${line}\n`);
    try {
      // A unix socket only this user reaches (0700, in a 0700 directory), and a password of this
      // run besides; a loopback port (open to every local user, but not to the password) only when
      // the socket's path is too long for the system.
      const socket = join(data, 'redis', 'redis.sock');
      const redisOptions = {
        dataDir: join(data, 'redis'),
        persistence: 'aof' as const,
        log: say,
        password: randomBytes(24).toString('base64url'),
        ...(Buffer.byteLength(socket) <= MAX_SOCKET_PATH ? { unixSocket: socket } : {}),
      };
      const redisUrl = process.env.REDIS_URL || (redis = await startRedis(redisOptions)).url;

      const env = { ...process.env, PORT: String(port), HOST: host, VMFARM_DATA: data, REDIS_URL: redisUrl };
      controller = await startChild({
        name: 'controller',
        command: process.execPath,
        args: [controllerMain],
        env,
        ready: /vmfarm controller listening on (https?:\/\/\S+)/,
        readyTimeoutMs: READY_TIMEOUT_MS,
      });
      const url = localUrl(controller.match[1]);
      const admin = adminToken(data);
      const client = new ControllerClient(url, admin);
      // The local agents get a token of their own (revoked when serve stops), never the admin's.
      const tokenFile = join(data, AGENT_TOKEN_FILE);
      await revokeLeftoverToken(client, tokenFile, say);
      const made =
        agents > 0 ? await client.createToken({ name: 'vmfarm serve agents', role: 'agent' }) : undefined;
      if (made) {
        agentToken = { client, id: made.id, file: tokenFile };
        writeFileSync(tokenFile, `${made.id}\n`, { mode: 0o600 });
      }

      const ids: string[] = [];
      for (let i = 1; i <= agents; i++) {
        const agent = await startChild({
          name: `agent-${i}`,
          command: process.execPath,
          // VM instances live with the farm's data while they run (the image cache stays shared).
          args: [
            agentMain,
            '--controller',
            url,
            // No --redis: argv is public; the agent asks the controller (/api/config) for the URL.
            '--name',
            `${hostname()}-${i}`,
            '--work',
            join(data, 'agent-work'),
          ],
          env: { ...process.env, VMFARM_TOKEN: made?.token },
          ready: /vmfarm agent (\S+) ready/,
          readyTimeoutMs: READY_TIMEOUT_MS,
          // The agent lets running attempts finish for up to 30 s (its --grace) before it hands them back.
          graceMs: 40000,
        });
        agentProcesses.push(agent);
        ids.push(agent.match[1]);
      }

      process.stdout.write(
        [
          `vmfarm farm ready at ${url}`,
          `  data:   ${data} (${process.env.DATABASE_URL ? 'results in DATABASE_URL' : `SQLite ${join(data, 'vmfarm.sqlite')}`}; ` +
            `${redis ? `Redis ${redis.unixSocket ? `on ${redis.unixSocket}` : `redis://127.0.0.1:${redis.port}`} (password in ${join(data, 'redis', 'redis.conf')}), append-only file in ${join(data, 'redis')}` : `Redis ${redactPassword(redisUrl)}`})`,
          `  agents: ${agents ? `${agents} local (${ids.join(', ')})` : 'none; start some with `vmfarm agent --controller URL --token AGENT_TOKEN`'}`,
          `  admin:  ${admin} (the admin token${process.env.VMFARM_ADMIN_TOKEN ? ', from VMFARM_ADMIN_TOKEN' : `, in ${join(data, 'admin.token')}`}; vendor tokens: vmfarm token create --help)`,
          `  submit: vmfarm submit IMAGE --targets static --suites all --wait --controller ${url}`,
          'Stop with Ctrl-C.',
          '',
        ].join('\n'),
      );

      // Runs until a signal, or until a part of the farm dies under us (then the rest stops: exit 3).
      // Redis alone is restarted once: with its append-only file the queue survives, and the
      // controller and agents reconnect on their own.
      const died = Promise.race(
        [controller, ...agentProcesses].map((c) => c.exited.then((status) => ({ name: c.name, status }))),
      );
      let restartedAt = -Infinity;
      for (;;) {
        const current = redis;
        const redisDied = current
          ? current.exited.then((status) => ({ name: 'redis-server', status, redis: current }))
          : new Promise<never>(() => {});
        const outcome = await Promise.race([signal, died, redisDied]);
        if (typeof outcome === 'string') {
          say(`${outcome}: stopping agents, controller${redis ? ' and redis' : ''}`);
          return EXIT.ok;
        }
        const how = `${outcome.name} ${describeExit(outcome.status)}`;
        if (!('redis' in outcome)) throw new CommandError(`${how}; stopping the farm`, EXIT.infrastructure);
        if (Date.now() - restartedAt < RESTART_WINDOW_MS)
          throw new CommandError(
            `${how} again within ${RESTART_WINDOW_MS / 60000} minutes of its restart; stopping the farm`,
            EXIT.infrastructure,
          );
        say(
          `${how}; restarting it (${outcome.redis.unixSocket ?? `port ${outcome.redis.port}`}, the same append-only file)`,
        );
        try {
          redis = await startRedis({ ...redisOptions, port: outcome.redis.port });
        } catch (err) {
          redis = undefined;
          throw new CommandError(
            `${how} and could not be restarted: ${(err as Error).message}; stopping the farm`,
            EXIT.infrastructure,
          );
        }
        restartedAt = Date.now();
        say(`redis-server restarted (pid ${redis.pid}); the controller and agents reconnect to it`);
      }
    } finally {
      await Promise.all(agentProcesses.map((c) => c.stop()));
      if (agentToken) {
        const { client, id, file } = agentToken;
        await client.revokeToken(id).then(
          () => rmSync(file, { force: true }),
          (err: Error) => say(`the agents' token ${id} stays valid until the next start: ${err.message}`),
        );
      }
      await controller?.stop();
      await redis?.stop();
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    }
  });
}
