/** Test fixtures from scripts/test-deps.sh (compiled programs, busybox) and the runners. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../../..');
const CLI = join(ROOT, 'apps/cli/bin/vmfarm.js');

export interface Fixtures {
  programs: string;
  busybox: string;
}

let cached: Fixtures | undefined;

/** Runs the idempotent dependency script once per process; throws with its stderr on failure. */
export function fixtures(): Fixtures {
  if (cached) return cached;
  const r = spawnSync('bash', [join(ROOT, 'libs/emulator/scripts/test-deps.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`libs/emulator/scripts/test-deps.sh failed: ${r.stderr.trim()}`);
  const [programs, busybox] = r.stdout.trim().split('\n');
  cached = { programs, busybox };
  return cached;
}

export interface Outcome {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: string | null;
}

const outcome = (r: SpawnSyncReturns<Buffer>): Outcome => ({
  stdout: r.stdout.toString('latin1'),
  stderr: r.stderr.toString('latin1'),
  status: r.status,
  signal: r.signal,
});

/** Same environment for both: the guest's output must not depend on the host's. */
const ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C', HOME: '/nonexistent' };

export function underQemu(elf: string, args: string[], cwd?: string): Outcome {
  return outcome(spawnSync('qemu-aarch64', [elf, ...args], { env: ENV, cwd, maxBuffer: 1 << 28 }));
}

export function underEmulator(elf: string, args: string[], cwd?: string): Outcome {
  return outcome(
    spawnSync(process.execPath, [CLI, 'emulate', elf, ...args], { env: ENV, cwd, maxBuffer: 1 << 28 }),
  );
}
