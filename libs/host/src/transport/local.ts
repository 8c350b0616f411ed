import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnGuarded } from '../process';
import type { ExecResult, HostCommand, HostTransport, StreamTarget } from './types';

/** The agent's own host: child processes and the local file system. */
export class LocalTransport implements HostTransport {
  readonly url = 'local';
  readonly remote = false;

  spawn(command: string, args: readonly string[]): HostCommand {
    const child = spawnGuarded(command, [...args], { stdio: 'pipe' }) as ChildProcess & {
      stdin: NonNullable<ChildProcess['stdin']>;
      stdout: NonNullable<ChildProcess['stdout']>;
      stderr: NonNullable<ChildProcess['stderr']>;
    };
    const pid = new Promise<number>((resolve, reject) => {
      if (child.pid !== undefined) resolve(child.pid);
      else child.once('error', reject);
    });
    pid.catch(() => {}); // `exited` reports a failed start too
    const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('error', () => resolve({ code: null, signal: null }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      pid,
      exited: done,
      kill: async (signal = 'SIGTERM') => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        try {
          // Its own process group (spawnGuarded): whatever it started goes too.
          process.kill(-child.pid, signal);
        } catch {
          // gone meanwhile
        }
      },
    };
  }

  exec(
    command: string,
    args: readonly string[],
    options: { input?: string; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        command,
        [...args],
        { timeout: options.timeoutMs ?? 0, maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: string }) | null;
          if (e && typeof e.code === 'string') return reject(e); // ENOENT and friends: it never ran
          resolve({
            code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
            signal: e?.signal ?? null,
            stdout: String(stdout),
            stderr: String(stderr),
          });
        },
      );
      child.stdin?.on('error', () => {}); // EPIPE from a program that reads no input
      child.stdin?.end(options.input ?? '');
    });
  }

  upload(localPath: string, hostPath: string): Promise<void> {
    return copyFile(localPath, hostPath);
  }

  download(hostPath: string, localPath: string): Promise<void> {
    return copyFile(hostPath, localPath);
  }

  async exists(hostPath: string): Promise<boolean> {
    return existsSync(hostPath);
  }

  mkdtemp(prefix: string, parent = tmpdir()): Promise<string> {
    return mkdtemp(join(parent, prefix));
  }

  remove(hostPath: string): Promise<void> {
    return rm(hostPath, { recursive: true, force: true });
  }

  freePort(): Promise<number> {
    return freePort();
  }

  openStream(target: StreamTarget): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s =
        'path' in target
          ? createConnection({ path: target.path })
          : createConnection({ port: target.port, host: target.host ?? '127.0.0.1' });
      s.once('connect', () => {
        s.removeListener('error', reject);
        resolve(s);
      });
      s.once('error', (err) => {
        s.destroy();
        reject(err);
      });
    });
  }

  async close(): Promise<void> {}
}
