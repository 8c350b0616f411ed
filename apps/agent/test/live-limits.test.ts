/**
 * Time limits and blame with the real agent code, real QEMU and the reference guest (fixtures/guest):
 * a QEMU stopped (SIGSTOP) while the guest boots is ERROR, never the image's FAIL; a stage that hangs
 * because the VM stopped mid-suite ends ERROR naming the stage; a hostile readiness pattern on a real
 * console leaves the agent responsive and the wait ends at its limit. Nothing is left running or on disk.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { QemuTargetProfile, RunJobData, StageLimits } from '@vmfarm/protocol';
import { readyPatterns, waitReady } from '@vmfarm/suites';
import {
  boot,
  BUNDLED_PROFILES_DIR,
  loadProfileInputs,
  probeHost,
  resolveProfiles,
  type HostProbe,
  type QemuSession,
} from '@vmfarm/targets';
import { runAttempt } from '../src/attempt';
import { qemuVmRun } from '../src/qemu-vm';
import { findSuite } from '../src/suites';
import { watchedQemuVm } from './live-vm';

const ROOT = path.join(__dirname, '../../../..');
const AARCH64 = resolveProfiles(loadProfileInputs(BUNDLED_PROFILES_DIR)).profiles.get('qemu-aarch64-tcg')!;
let image = '';
let work = '';
let probe: HostProbe;
let unavailable = '';

before(async () => {
  probe = await probeHost();
  if (!probe.binaries['qemu-system-aarch64'] || !probe.firmware['AAVMF_CODE.fd']) {
    unavailable =
      'qemu-system-aarch64 or AAVMF is missing (apt-get install qemu-system-arm qemu-efi-aarch64 qemu-utils)';
    if (process.env.CI === 'true') throw new Error(unavailable);
    return;
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'vmfarm-agent-limits-'));
  image = await new Promise<string>((resolve, reject) =>
    execFile(
      'bash',
      [path.join(ROOT, 'fixtures/guest/build.sh'), 'aarch64', path.join(work, 'guest')],
      { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`build.sh failed: ${stderr.slice(-2000)}`))
          : resolve(stdout.trim().split('\n').pop()!),
    ),
  );
});

process.on('exit', () => work && fs.rmSync(work, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * An attempt of `suite` on the reference guest whose QEMU is stopped (SIGSTOP) once `when` says so;
 * returns the result and the QEMU process ids it started.
 */
async function stoppedAttempt(
  suite: string,
  stageLimits: StageLimits,
  when: (s: QemuSession) => Promise<void>,
) {
  const target: QemuTargetProfile = { ...AARCH64, stageLimits };
  const job: RunJobData = {
    runId: `limits-${suite}`,
    matrixId: 'm',
    suite,
    target,
    image: { sha256: 'a'.repeat(64), size: fs.statSync(image).size, format: 'raw', arch: 'aarch64' },
  };
  const workDir = path.join(work, `agent-work-${suite}`);
  const pids: number[] = [];
  const result = await runAttempt(job, new AbortController().signal, {
    agentId: () => 'agent',
    findSuite,
    fetchImage: async () => image,
    faultDelayMs: 0,
    liveVm: watchedQemuVm(workDir, probe, (session) => {
      pids.push(session.pid!);
      void when(session).then(() => process.kill(session.pid!, 'SIGSTOP'));
    }),
  });
  return { result, pids, workDir };
}

function assertNothingLeft(pids: number[], workDir: string) {
  assert.ok(pids.length > 0);
  for (const pid of pids) assert.equal(alive(pid), false, `QEMU ${pid} still runs`);
  assert.deepEqual(
    fs.existsSync(workDir) ? fs.readdirSync(workDir) : [],
    [],
    'the instance directories are removed',
  );
}

test('a QEMU stopped while the guest boots: ERROR for every boot clause, never FAIL of the image', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const { result, pids, workDir } = await stoppedAttempt('boot', { ready: 5 }, async () => {});
  assert.deepEqual(
    result.verdicts.map((v) => `${v.clause}:${v.verdict}`),
    ['FW-UEFI:ERROR', 'FW-DEFAULT-BOOT:ERROR', 'IMG-NO-VARS:ERROR'],
    JSON.stringify(result.verdicts, null, 1),
  );
  assert.match(
    result.verdicts[2].message,
    /^(the VM stopped running before the guest was ready: QEMU did not answer query-status within 5000 ms: it is hung|no console output from the VM: QEMU did not answer query-status within 5000 ms: it is hung)$/,
  );
  assertNothingLeft(pids, workDir);
});

test('a stage that hangs on a real QEMU (stopped once the guest is up) ends ERROR naming the stage within its limit', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const ready = async (s: QemuSession) => {
    while (!s.console.transcript().includes('VMFARM-READY')) await new Promise((r) => setTimeout(r, 50));
  };
  const { result, pids, workDir } = await stoppedAttempt('hotplug', { act: 3 }, ready);
  assert.deepEqual(
    result.verdicts.map((v) => [v.clause, v.verdict, v.message]),
    [
      [
        'PLAT-HOTPLUG',
        'ERROR',
        'the act stage (add and remove blk and net) overran its limit of 3 s; its VMs were closed',
      ],
      [
        'GUEST-HOTPLUG',
        'ERROR',
        'the act stage (add and remove blk and net) overran its limit of 3 s; its VMs were closed',
      ],
    ],
  );
  assertNothingLeft(pids, workDir);
});

/** The reference guest with its kernel's EFI stub as the loader: no command line, no initrd, so it panics. */
async function panickingImage(): Promise<string> {
  const out = path.join(work, 'panics.img');
  const run = (cmd: string, args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(cmd, args, { timeout: 120_000 }, (err, _o, stderr) =>
        err ? reject(new Error(`${cmd}: ${stderr}`)) : resolve(),
      ),
    );
  await run('cp', ['--sparse=always', image, out]);
  const esp = `${out}@@${2048 * 512}`; // fixtures/guest/build.sh puts the ESP at sector 2048
  await run('mcopy', ['-i', esp, '::/vmfarm/linux', path.join(work, 'linux')]);
  await run('mcopy', ['-o', '-i', esp, path.join(work, 'linux'), '::/EFI/BOOT/BOOTAA64.EFI']);
  return out;
}

test("a kernel panic ends the wait at once: the image's FAIL with the panic line; the firmware passes", async (t) => {
  if (unavailable) return t.skip(unavailable);
  const panics = await panickingImage();
  const target: QemuTargetProfile = { ...AARCH64, stageLimits: { ready: 1800 } };
  const job: RunJobData = {
    runId: 'limits-panic',
    matrixId: 'm',
    suite: 'boot',
    target,
    image: { sha256: 'b'.repeat(64), size: fs.statSync(panics).size, format: 'raw', arch: 'aarch64' },
  };
  const workDir = path.join(work, 'agent-work-panic');
  // Half an hour to get ready: only the panic line ends this wait in the time a test has.
  const result = await runAttempt(job, new AbortController().signal, {
    agentId: () => 'agent',
    findSuite,
    fetchImage: async () => panics,
    faultDelayMs: 0,
    liveVm: (j, imagePath) => qemuVmRun(j, 1, imagePath, workDir, probe),
  });
  const v = Object.fromEntries(result.verdicts.map((x) => [x.clause, x]));
  assert.deepEqual(
    result.verdicts.map((x) => `${x.clause}:${x.verdict}`),
    ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:PASS', 'IMG-NO-VARS:FAIL'],
    JSON.stringify(result.verdicts, null, 1),
  );
  assert.match(
    v['IMG-NO-VARS'].message,
    /^the image did not boot with an empty variable store: the kernel panicked: ".*Kernel panic - not syncing(?:: .*)?"$/,
  );
  assert.match(v['IMG-NO-VARS'].evidence.fatal as string, /Kernel panic - not syncing/);
  assert.deepEqual(v['IMG-NO-VARS'].evidence.imageChecks, { passed: true, failed: [] });
  assert.deepEqual(fs.existsSync(workDir) ? fs.readdirSync(workDir) : [], []);
});

test('a hostile readiness pattern on a real console: the agent stays responsive and the wait ends at its limit', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const instanceDir = path.join(work, 'redos');
  const s = await boot(AARCH64, { image, format: 'raw', instanceDir, probe });
  try {
    await s.console.expect(/^VMFARM-READY$/m, 180_000);
    // The guest echoes the line and answers with the 40-letter word again: `(\w|\w)*#` on JavaScript's
    // engine would backtrack 2^40 ways on each, for hours, with the event loop held.
    s.console.send(`vmfarm ${'a'.repeat(40)}\n`);
    await s.console.expect('VMFARM-ERR unknown-command', 30_000);
    let beats = 0;
    const heartbeat = setInterval(() => beats++, 100);
    const waited = await waitReady(
      s,
      readyPatterns('(\\w|\\w)*#'),
      new AbortController().signal,
      3000,
    ).finally(() => clearInterval(heartbeat));
    assert.deepEqual(
      waited.end,
      { kind: 'timeout', timeoutMs: 3000 },
      'the VM runs: the guest is judged not ready',
    );
    assert.ok(beats > 0, 'the event loop ran while the pattern was applied');
    assert.match(s.console.transcript(), new RegExp(`VMFARM-ERR unknown-command a{40}`));
  } finally {
    await s.close();
  }
  assert.equal(alive(s.pid!), false);
});
