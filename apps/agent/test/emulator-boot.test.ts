/**
 * The `boot` suite through the real agent code on the bundled emulator and on qemu-aarch64-tcg, same
 * reference guest (fixtures/guest), with GICv3 and GICv2: the clauses and verdicts are the same. Minutes
 * of CPU for the emulator (an interpreter); no timed assertion.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { RunJobData, TargetProfile } from '@vmfarm/protocol';
import {
  BUNDLED_PROFILES_DIR,
  loadEmulatorProfiles,
  loadProfileInputs,
  probeHost,
  resolveProfiles,
  type HostProbe,
} from '@vmfarm/targets';
import { runAttempt } from '../src/attempt';
import { emulatorVmRun, qemuVmRun } from '../src/qemu-vm';
import { findSuite } from '../src/suites';

const ROOT = path.join(__dirname, '../../../..');

async function bootSuite(target: TargetProfile, image: string, work: string, probe: HostProbe) {
  const job: RunJobData = {
    runId: `emu-boot-${target.id}`,
    matrixId: 'm',
    suite: 'boot',
    target,
    image: { sha256: 'c'.repeat(64), size: fs.statSync(image).size, format: 'raw', arch: 'aarch64' },
  };
  const workDir = path.join(work, `agent-work-${target.id}`);
  const result = await runAttempt(job, new AbortController().signal, {
    agentId: () => 'agent',
    findSuite,
    fetchImage: async () => image,
    faultDelayMs: 0,
    liveVm: (j, imagePath) =>
      j.target.kind === 'emulator'
        ? emulatorVmRun(j, 1, imagePath, workDir, probe)
        : qemuVmRun(j, 1, imagePath, workDir, probe),
  });
  assert.deepEqual(fs.existsSync(workDir) ? fs.readdirSync(workDir) : [], [], 'instance directories removed');
  return result.verdicts.map((v) => `${v.clause}:${v.verdict}`);
}

test(
  'boot suite: the emulator gives the verdicts qemu-aarch64-tcg gives, on GICv3 and GICv2',
  { timeout: 3_600_000 },
  async (t) => {
    const probe = await probeHost();
    if (!probe.binaries['qemu-system-aarch64'] || !probe.firmware['AAVMF_CODE.fd']) {
      const why =
        'qemu-system-aarch64 or AAVMF is missing (apt-get install qemu-system-arm qemu-efi-aarch64)';
      if (process.env.CI === 'true') throw new Error(why);
      return t.skip(why);
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vmfarm-agent-emu-'));
    try {
      const image = await new Promise<string>((resolve, reject) =>
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
      const qemu = resolveProfiles(loadProfileInputs(BUNDLED_PROFILES_DIR)).profiles.get('qemu-aarch64-tcg')!;
      const emulators = loadEmulatorProfiles(BUNDLED_PROFILES_DIR);
      for (const gic of [3, 2] as const) {
        const onQemu = await bootSuite({ ...qemu, id: `qemu-gicv${gic}`, gic }, image, work, probe);
        const emulator = emulators.get(gic === 3 ? 'emulator-aarch64' : 'emulator-aarch64-gicv2')!;
        const onEmulator = await bootSuite(emulator, image, work, probe);
        t.diagnostic(`GICv${gic}: qemu ${onQemu.join(' ')}; emulator ${onEmulator.join(' ')}`);
        assert.ok(onQemu.length > 0);
        assert.deepEqual(onEmulator, onQemu);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
);
