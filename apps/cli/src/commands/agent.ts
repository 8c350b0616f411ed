import { constants } from 'node:os';
import { exited, spawnGuarded } from '@vmfarm/host';
import { EXIT } from '@vmfarm/protocol';
import { appEntry, controllerUrl } from '../apps';
import { reported } from '../failure';
import { parse, UsageError } from '../usage';

const HELP = `usage: vmfarm agent --controller URL [--token TOKEN] [--redis URL] [--name NAME] [--concurrency N]

Runs an agent in the foreground: it registers with the controller, takes runs from the queues of
the target kinds this host can drive, and reports verdicts. Stops on Ctrl-C or SIGTERM.

  --controller URL  the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN     an agent token (default: $VMFARM_TOKEN); make one with
                    \`vmfarm token create --name NAME --role agent\`
  --redis URL       the queue's Redis (default: the one the controller names at registration)
  --name NAME       shown on the dashboard (default: chosen by the agent from the host name)
  --concurrency N   host cores its attempts use, as many runs at once (default:
                    $VMFARM_AGENT_CONCURRENCY, else every core of the host)
`;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

export async function agent(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      controller: { type: 'string' },
      token: { type: 'string' },
      redis: { type: 'string' },
      name: { type: 'string' },
      concurrency: { type: 'string' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const args = ['--controller', controllerUrl(values.controller as string | undefined)];
  // No fallback to the local admin token: an agent gets an agent token, nothing more.
  const token = (values.token as string | undefined) ?? (process.env.VMFARM_TOKEN || undefined);
  if (!token) throw new UsageError('no token: set VMFARM_TOKEN or pass --token');
  if (values.redis !== undefined) args.push('--redis', values.redis as string);
  if (values.name !== undefined) args.push('--name', values.name as string);
  if (values.concurrency !== undefined) {
    const n = Number(values.concurrency);
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new UsageError(`--concurrency must be an integer from 1 to 64 (got '${values.concurrency}')`);
    args.push('--concurrency', String(n));
  }

  return reported('agent', async () => {
    // exec-like: the agent owns the terminal's output, gets every signal we get, and its exit code is ours.
    // The token goes by environment, not argv: the process list shows argv to every user.
    const child = spawnGuarded(process.execPath, [appEntry('agent'), ...args], {
      env: { ...process.env, VMFARM_TOKEN: token },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const s of SIGNALS) process.on(s, forward);
    try {
      const { code, signal } = await exited(child);
      return code ?? 128 + (signal ? constants.signals[signal] : 0);
    } finally {
      for (const s of SIGNALS) process.off(s, forward);
    }
  });
}
