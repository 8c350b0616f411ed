/**
 * One boot of the reference guest (fixtures/guest) on QEMU with a fresh copy of a VARS template:
 * the guest runs protocol commands (setvar/delvar) and powers off, leaving the per-instance
 * variable store written by real firmware. QEMU is killed on every path.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../../..');
/** Generous: a TCG boot takes 5–7 s idle here and 16 s at load 7.5. */
const RUN_MS = 240_000;

function run(cmd: string, args: string[], timeout: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${err.message} ${stderr.slice(-2000)}`)) : resolve(stdout),
    ),
  );
}

/** What is missing for a boot here, or '' when everything is present. */
export function vmUnavailable(): string {
  const missing = [
    '/usr/bin/qemu-system-aarch64',
    '/usr/share/AAVMF/AAVMF_CODE.fd',
    join(ROOT, 'fixtures/guest/build.sh'),
  ].filter((f) => !existsSync(f));
  return missing.length
    ? `missing ${missing.join(', ')} (apt-get install qemu-system-arm qemu-efi-aarch64)`
    : '';
}

/** Builds (or takes from the cache) the aarch64 guest image; returns its path. */
export async function buildGuest(outDir: string): Promise<string> {
  const out = await run('bash', [join(ROOT, 'fixtures/guest/build.sh'), 'aarch64', outDir], 600_000);
  return out.trim().split('\n').pop()!;
}

/**
 * Copies `template` to `vars` (sparse), boots `image` with it, sends `commands` one at a time after
 * VMFARM-READY (each awaits its VMFARM-OK/ERR line), then `vmfarm poweroff` and waits for QEMU to
 * exit. Returns the answer lines.
 */
export async function bootAndRun(
  image: string,
  template: string,
  vars: string,
  commands: string[],
): Promise<string[]> {
  await run('cp', ['--sparse=always', template, vars], 60_000);
  const qemu = spawn(
    'qemu-system-aarch64',
    [
      ...['-machine', 'virt,gic-version=3,acpi=off', '-cpu', 'cortex-a57', '-m', '1024', '-nographic'],
      // No default NIC: its option ROM (efi-virtio.rom) comes from ipxe-qemu, which the set-up does not install.
      ...['-nic', 'none'],
      ...['-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd'],
      ...['-drive', `if=pflash,format=raw,unit=1,file=${vars}`],
      ...[
        '-drive',
        `if=none,id=hd0,format=raw,snapshot=on,file=${image}`,
        '-device',
        'virtio-blk-pci,drive=hd0',
      ],
      ...['-boot', 'menu=on,splash-time=0'],
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let log = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    qemu.on('exit', () => ((exited = true), resolve()));
    qemu.on('error', (err) => ((log += err.message), (exited = true), resolve()));
  });
  qemu.stdin.on('error', () => {}); // a write after QEMU died: the wait below reports it
  qemu.stdout.on('data', (d: Buffer) => (log += d.toString('latin1').replace(/\r/g, '')));
  qemu.stderr.on('data', (d: Buffer) => (log += d.toString('latin1')));
  const deadline = setTimeout(() => qemu.kill('SIGKILL'), RUN_MS);
  const lines = (re: RegExp) => log.split('\n').filter((l) => re.test(l));
  const waitFor = async (re: RegExp, count: number, what: string) => {
    while (lines(re).length < count) {
      if (exited) throw new Error(`QEMU exited before ${what}; console tail: ${log.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await waitFor(/^VMFARM-READY$/, 1, 'VMFARM-READY');
    const answer = /^VMFARM-(OK|ERR)/;
    const all = [...commands, 'vmfarm poweroff'];
    for (const [i, c] of all.entries()) {
      qemu.stdin.write(`${c}\n`);
      await waitFor(answer, i + 1, `the answer to '${c}'`);
    }
    await exit; // the guest powers off: QEMU flushes the flash file and exits
    return lines(answer);
  } finally {
    clearTimeout(deadline);
    if (!exited) {
      qemu.kill('SIGKILL');
      await exit;
    }
  }
}
