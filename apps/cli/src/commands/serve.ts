import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describeExit, startChild, startRedis, type RedisServer, type Supervised } from '@vmfarm/host';
import { EXIT } from '@vmfarm/protocol';
import { appEntry } from '../apps';
import { ControllerClient } from '../client';
import { CommandError, reported } from '../failure';
import { parse, UsageError } from '../usage';

const HELP = `usage: vmfarm serve [--port N] [--host H] [--data DIR] [--agents N]

Runs a whole farm on this machine: the controller, N local agents and, unless REDIS_URL is set,
a private redis-server (append-only file under DIR/redis, so queued runs survive a restart).
Results go to SQLite at DIR/vmfarm.sqlite unless DATABASE_URL (postgres://...) is set.
On first start the controller makes an admin token and writes it to DIR/admin.token (0600), where
the CLI finds it; serve prints it, and gives its agents an agent token of their own.
Ctrl-C or SIGTERM stops the agents, the controller and redis, in that order.

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
    try {
      mkdirSync(data, { recursive: true });
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
    let agentToken: { client: ControllerClient; id: string } | undefined;

    let signalled: (signal: NodeJS.Signals) => void = () => {};
    const signal = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
    const onSignal = (s: NodeJS.Signals) => signalled(s);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);

    const say = (line: string) => process.stderr.write(`vmfarm serve: ${line}\n`);
    try {
      const redisUrl =
        process.env.REDIS_URL ||
        (redis = await startRedis({ dataDir: join(data, 'redis'), persistence: 'aof', log: say })).url;

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
      const made =
        agents > 0 ? await client.createToken({ name: 'vmfarm serve agents', role: 'agent' }) : undefined;
      if (made) agentToken = { client, id: made.id };

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
            '--redis',
            redisUrl,
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
            `${redis ? `Redis ${redisUrl}, append-only file in ${join(data, 'redis')}` : `Redis ${redisUrl}`})`,
          `  agents: ${agents ? `${agents} local (${ids.join(', ')})` : 'none; start some with `vmfarm agent --controller URL --token AGENT_TOKEN`'}`,
          `  admin:  ${admin} (the admin token${process.env.VMFARM_ADMIN_TOKEN ? ', from VMFARM_ADMIN_TOKEN' : `, in ${join(data, 'admin.token')}`}; vendor tokens: vmfarm token create --help)`,
          `  submit: vmfarm submit IMAGE --targets static --suites all --wait --controller ${url}`,
          'Stop with Ctrl-C.',
          '',
        ].join('\n'),
      );

      // Runs until a signal, or until a part of the farm dies under us (then the rest stops: exit 3).
      const died = Promise.race(
        [controller, ...agentProcesses].map((c) => c.exited.then((status) => ({ name: c.name, status }))),
      );
      const outcome = await Promise.race([signal, died]);
      if (typeof outcome !== 'string')
        throw new CommandError(
          `${outcome.name} ${describeExit(outcome.status)}; stopping the farm`,
          EXIT.infrastructure,
        );
      say(`${outcome}: stopping agents, controller${redis ? ' and redis' : ''}`);
      return EXIT.ok;
    } finally {
      await Promise.all(agentProcesses.map((c) => c.stop()));
      await agentToken?.client
        .revokeToken(agentToken.id)
        .catch((err: Error) => say(`the agents' token ${agentToken?.id} stays valid: ${err.message}`));
      await controller?.stop();
      await redis?.stop();
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    }
  });
}
