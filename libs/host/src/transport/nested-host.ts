import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError, exited, freePort, spawnGuarded } from '../process';
import { SshTransport } from './ssh';

/** fixtures/hosts of this checkout (from libs/host/dist/src/transport). */
const FIXTURES = join(__dirname, '../../../../../fixtures/hosts');

/** An arm64 hypervisor host built by fixtures/hosts/build.sh and booted under TCG, reached over SSH. */
export interface NestedHost {
  transport: SshTransport;
  url: string;
  privateKey: string;
  /** The host key its console printed (pinned by `transport`). */
  hostKey: string;
  /** Seconds from QEMU's start to the host's SSH server answering. */
  bootSeconds: number;
  console(): string;
  /** Ends the connection and the host's QEMU. */
  stop(): Promise<void>;
}

function build(additions: readonly string[], outDir: string): Promise<string> {
  const args = [join(FIXTURES, 'build.sh'), ...additions.flatMap((a) => ['--with', a]), outDir];
  return new Promise((resolve, reject) =>
    execFile('bash', args, { timeout: 1_200_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(new HostError(`fixtures/hosts/build.sh failed: ${String(stderr).slice(-2000)}`))
        : resolve(String(stdout).trim().split('\n').pop()!),
    ),
  );
}

/**
 * Builds (or takes from the cache) the host with `additions` and boots it with boot.sh; resolves once
 * root is logged in over SSH with the console's host key pinned. `extraArgs` go to QEMU.
 */
export async function bootNestedHost(options: {
  additions: readonly string[];
  outDir: string;
  extraArgs?: readonly string[];
  memory?: string;
  /** QEMU's -cpu for the host (boot.sh's HOST_CPU; default cortex-a57). */
  cpu?: string;
  timeoutMs?: number;
}): Promise<NestedHost> {
  const dir = await build(options.additions, options.outDir);
  const port = await freePort();
  const started = Date.now();
  const child = spawnGuarded(
    'bash',
    [join(FIXTURES, 'boot.sh'), dir, String(port), '--', ...(options.extraArgs ?? [])],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HOST_MEM: options.memory ?? process.env.HOST_MEM ?? '2G',
        ...(options.cpu ? { HOST_CPU: options.cpu } : {}),
      },
    },
  );
  let consoleText = '';
  child.stdout!.on('data', (b: Buffer) => (consoleText += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (consoleText += b.toString()));
  const stopQemu = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // boot.sh execs nice, which execs QEMU: one process (its group, to be sure).
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    await exited(child);
  };
  const deadline = started + (options.timeoutMs ?? 600_000);
  try {
    let hostKey = '';
    while (!/^VMFARM-HOST-READY/m.test(consoleText)) {
      if (child.exitCode !== null)
        throw new HostError(`the nested host's QEMU exited: ${consoleText.slice(-2000)}`);
      if (Date.now() > deadline)
        throw new HostError(`the nested host was not ready in time: ${consoleText.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    hostKey = /^VMFARM-HOST-KEY (ssh-\S+ \S+)/m.exec(consoleText)?.[1] ?? '';
    if (!hostKey) throw new HostError('the nested host printed no host key');
    const url = `ssh://root@127.0.0.1:${port}`;
    const privateKey = readFileSync(join(dir, 'id_ed25519'), 'utf8');
    const transport = await SshTransport.connect(url, { privateKey, hostKey, readyTimeoutMs: 120_000 });
    const bootSeconds = (Date.now() - started) / 1000;
    return {
      transport,
      url,
      privateKey,
      hostKey,
      bootSeconds,
      console: () => consoleText,
      stop: async () => {
        await transport.close().catch(() => {});
        await stopQemu();
      },
    };
  } catch (err) {
    await stopQemu();
    throw err;
  }
}
