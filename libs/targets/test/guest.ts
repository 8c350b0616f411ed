import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { probeHost } from '../src';

const ROOT = join(__dirname, '../../../..');

/** Why this host cannot boot the aarch64 guest under QEMU ('' when it can); on CI that is an error. */
export async function qemuMissing(): Promise<string> {
  const probe = await probeHost();
  if (probe.binaries['qemu-system-aarch64'] && probe.firmware['AAVMF_CODE.fd']) return '';
  const why =
    'qemu-system-aarch64 or /usr/share/AAVMF is missing (apt-get install qemu-system-arm qemu-efi-aarch64 qemu-utils)';
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

/** Builds the reference guest (fixtures/guest/build.sh, aarch64) under `dir`; resolves with its image. */
export function buildGuest(dir: string): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    execFile(
      'bash',
      [join(ROOT, 'fixtures/guest/build.sh'), 'aarch64', join(dir, 'guest')],
      { timeout: 600_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`build.sh failed: ${stderr.slice(-2000)}`))
          : resolve(stdout.trim().split('\n').pop()!),
    ),
  );
}
