import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const AGENT_MAIN = path.resolve(__dirname, '../../../../agent/dist/src/main.js');

export interface AgentProcess {
  child: ChildProcess;
  /** The agent id from its ready line. */
  ready: Promise<string>;
  output(): string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** A real agent child process (`node apps/agent/dist/src/main.js …`). */
export function startAgent(
  controllerUrl: string,
  cacheDir: string,
  env: Record<string, string> = {},
): AgentProcess {
  const child = spawn(
    process.execPath,
    [AGENT_MAIN, '--controller', controllerUrl, '--cache', cacheDir, '--grace', '2'],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /vmfarm agent (\S+) ready/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`agent exited (${code}) before ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    output: () => out,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
