import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { HostError, exited, spawnGuarded } from './process';

export interface ChildOptions {
  /** Prefixes forwarded log lines and names the child in errors, e.g. 'controller', 'agent-1'. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Matched against each stdout line; the child counts as ready at the first match. */
  ready: RegExp;
  readyTimeoutMs?: number;
  /** Receives every output line, already prefixed; default: our stderr. */
  output?: (line: string) => void;
  /** SIGTERM first, SIGKILL to the whole process group after this many ms. */
  graceMs?: number;
}

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

export interface Supervised {
  name: string;
  pid: number;
  /** The ready line's match (capture groups carry e.g. the URL or the agent id). */
  match: RegExpMatchArray;
  /** Resolves when the child exits, whoever caused it. */
  exited: Promise<ExitStatus>;
  stop(): Promise<ExitStatus>;
}

/** 'exited with code N' or 'was killed by SIGNAL'. */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

async function terminate(child: ChildProcess, graceMs: number): Promise<ExitStatus> {
  const gone = exited(child);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      // The group too: whatever the child started (VMs, tools) must not outlive it.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, graceMs);
    await gone;
    clearTimeout(timer);
  }
  return gone;
}

/** Starts a child process, forwards its output with a prefix and waits for its ready line. */
export async function startChild(options: ChildOptions): Promise<Supervised> {
  const { name } = options;
  const output = options.output ?? ((line: string) => process.stderr.write(`${line}\n`));
  const graceMs = options.graceMs ?? 10000;
  const timeoutMs = options.readyTimeoutMs ?? 30000;
  const child = spawnGuarded(options.command, options.args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gone = exited(child);
  const errors: string[] = [];
  let onReady: (match: RegExpMatchArray) => void = () => {};
  const ready = new Promise<RegExpMatchArray>((resolve) => (onReady = resolve));
  let isReady = false;

  createInterface({ input: child.stdout! }).on('line', (line) => {
    output(`[${name}] ${line}`);
    const match = isReady ? null : options.ready.exec(line);
    if (match) {
      isReady = true;
      onReady(match);
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    output(`[${name}] ${line}`);
    errors.push(line);
    if (errors.length > 10) errors.shift();
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then((match) => ({ match })),
    gone.then((status) => ({ status })),
    spawnError.then((error) => ({ error })),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);

  if (outcome !== 'timeout' && 'match' in outcome)
    return {
      name,
      pid: child.pid!,
      match: outcome.match,
      exited: gone,
      stop: () => terminate(child, graceMs),
    };
  if (outcome === 'timeout') await terminate(child, graceMs);
  // Let the last stderr lines arrive before quoting them.
  await new Promise((resolve) => setImmediate(resolve));
  const why =
    outcome === 'timeout'
      ? `did not print its ready line within ${timeoutMs} ms`
      : 'error' in outcome
        ? `could not start: ${outcome.error.message}`
        : `${describeExit(outcome.status)} before it was ready`;
  const tail = errors.length ? `; its last stderr lines:\n  ${errors.join('\n  ')}` : '';
  throw new HostError(`${name} ${why}${tail}`);
}
