import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** A host problem a user can act on (a missing program, a busy data dir): printed as one line. */
export class HostError extends Error {
  override name = 'HostError';
}

/** The absolute path of an executable on PATH (plus the sbin directories non-root PATHs lack), or null. */
export function which(program: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A TCP port that was free on the loopback interface a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const setpriv = process.platform === 'linux' ? which('setpriv') : null;

/**
 * Spawns a child in its own process group (so a terminal's Ctrl-C reaches only us, and we stop
 * children in order) that still dies with us: on Linux, util-linux `setpriv --pdeathsig` execs the
 * program with the parent-death signal set, so a crashed or SIGKILLed parent leaves nothing behind.
 */
export function spawnGuarded(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const [file, argv] = setpriv
    ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', command, ...args]]
    : [command, args];
  return spawn(file, argv, { ...options, detached: true });
}

/** True while `pid` runs; a zombie (exited, not yet reaped by a parent that may never reap it) is gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/** What /proc says of a process: its command name, working directory and parent; null when gone. */
export function procInfo(pid: number): { comm: string; cwd: string | null; ppid: number } | null {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    // The command name may hold spaces and parentheses: the fields after it follow the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    let cwd: string | null = null;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // another user's process
    }
    return { comm, cwd, ppid };
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for `pid` to go away, SIGKILLing it after `graceMs`. Works for processes that are not our children. */
export async function waitGone(pid: number, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    while (isAlive(pid)) await sleep(20);
  }
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
