import { redisConnection } from '@vmfarm/host';
import { parseArgs } from 'node:util';
import { defaultConcurrency, MAX_CONCURRENCY, runAgent } from './agent';

export { runAgent, type AgentHandle, type AgentOptions } from './agent';

const USAGE = `usage: node apps/agent/dist/src/main.js --controller URL [--token TOKEN] [--redis URL] [--name NAME] [--concurrency N] [--cache DIR] [--work DIR] [--grace SECONDS]

--concurrency N: the host cores the agent's attempts use, as many attempts at once, a live one
holding as many cores as its VM has vCPUs (default: VMFARM_AGENT_CONCURRENCY, else every core this
process may run on: ${defaultConcurrency()} here).

Environment: VMFARM_TOKEN is the agent token unless --token is given (it keeps the token out of
the process list); VMFARM_AGENT_FAULT_DELAY_MS delays every attempt (fault injection for tests).
`;

function positiveInt(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${flag} must be a non-negative integer, got '${raw}'`);
  return n;
}

function concurrencyOf(raw: string | undefined): number {
  if (raw === undefined || raw === '') return defaultConcurrency();
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CONCURRENCY)
    throw new Error(`--concurrency must be an integer from 1 to ${MAX_CONCURRENCY}, got '${raw}'`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  let values;
  let concurrency: number;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        controller: { type: 'string' },
        token: { type: 'string' },
        redis: { type: 'string' },
        name: { type: 'string' },
        concurrency: { type: 'string' },
        cache: { type: 'string' },
        work: { type: 'string' },
        grace: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
    if (values.help) {
      process.stdout.write(USAGE);
      return;
    }
    if (!values.controller) throw new Error('--controller URL is required');
    values.token ??= process.env.VMFARM_TOKEN || undefined;
    if (!values.token) throw new Error('no token: set VMFARM_TOKEN or pass --token');
    concurrency = concurrencyOf(values.concurrency ?? process.env.VMFARM_AGENT_CONCURRENCY);
    if (values.redis) redisConnection(values.redis);
  } catch (err) {
    process.stderr.write(`vmfarm agent: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const starting = runAgent({
    controllerUrl: values.controller,
    token: values.token,
    redisUrl: values.redis,
    name: values.name,
    concurrency,
    cacheDir: values.cache,
    workDir: values.work,
    graceMs: positiveInt('grace', values.grace, 30) * 1000,
    faultDelayMs: positiveInt('VMFARM_AGENT_FAULT_DELAY_MS', process.env.VMFARM_AGENT_FAULT_DELAY_MS, 0),
    onReady: (id, kinds) =>
      process.stdout.write(`vmfarm agent ${id} ready (kinds: ${kinds.join(', ') || 'none'})\n`),
  });
  // Handlers before the agent is up: a signal right after the ready line must still stop it cleanly.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`vmfarm agent: ${signal}, finishing running attempts\n`);
    starting
      .then((agent) => agent.stop())
      .then(
        () => process.exit(0),
        (err: Error) => {
          process.stderr.write(`vmfarm agent: stop failed: ${err.message}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await starting;
}

if (require.main === module)
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`vmfarm agent: ${err.message}\n`);
    process.exit(1);
  });
