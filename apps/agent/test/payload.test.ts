/**
 * Arm's VBSA 1.0.0 (../shared/payloads/vbsa-1.0.0, Arm's prebuilt Vbsa.efi and Shell.efi) as the
 * `vbsa` payload suite, run by the real agent code on real QEMU with Debian's AAVMF: the farm
 * builds the payload's disk, boots it through the VM-session API, and reads the log. On GICv3 +
 * ACPI the run completes and the verdicts count as the log's ACS Summary does; a payload that
 * hangs (its QEMU stopped once the TIMER rules ran) ends ERROR within its time limit for the rules
 * it did not finish, with the partial log kept as the console artifact.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import {
  payloadManifestSchema,
  verdictRecordSchema,
  type PayloadManifest,
  type QemuTargetProfile,
  type RunJobData,
  type VerdictRecord,
} from '@vmfarm/protocol';
import { parseAcsLog, payloadDisk, payloadSuite } from '@vmfarm/suites';
import {
  BUNDLED_PROFILES_DIR,
  loadProfileInputs,
  probeHost,
  resolveProfiles,
  type HostProbe,
  type QemuSession,
} from '@vmfarm/targets';
import { runAttempt } from '../src/attempt';
import { watchedQemuVm } from './live-vm';

const ROOT = path.join(__dirname, '../../../..');
const ARM_COPY = path.join(ROOT, '../shared/payloads/vbsa-1.0.0');
const AARCH64 = resolveProfiles(loadProfileInputs(BUNDLED_PROFILES_DIR)).profiles.get('qemu-aarch64-tcg')!;
const MANIFEST = payloadManifestSchema.parse(
  JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/payloads/vbsa-1.0.0/payload.json'), 'utf8')),
);
let work = '';
let probe: HostProbe;
let unavailable = '';

before(async () => {
  probe = await probeHost();
  if (!probe.binaries['qemu-system-aarch64'] || !probe.firmware['AAVMF_CODE.fd'])
    unavailable =
      'qemu-system-aarch64 or AAVMF is missing (apt-get install qemu-system-arm qemu-efi-aarch64)';
  else if (!fs.existsSync(path.join(ARM_COPY, 'Vbsa.efi')))
    unavailable = `Arm's VBSA binaries are not at ${ARM_COPY} (see deploy/payloads/vbsa-1.0.0/README.md)`;
  if (unavailable && process.env.CI === 'true') throw new Error(unavailable);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'vmfarm-agent-payload-'));
});
process.on('exit', () => work && fs.rmSync(work, { recursive: true, force: true }));

const files = () =>
  new Map(['Vbsa.efi', 'Shell.efi'].map((f) => [f, fs.readFileSync(path.join(ARM_COPY, f))] as const));

async function attempt(
  name: string,
  manifest: PayloadManifest,
  target: QemuTargetProfile,
  onBoot: (s: QemuSession) => void = () => {},
) {
  const disk = await payloadDisk(path.join(work, 'disks'), manifest, files());
  const suite = payloadSuite({ manifest, sha256: disk.key });
  const job: RunJobData = {
    runId: `payload-${name}`,
    matrixId: 'm',
    suite: suite.id,
    target,
    image: { sha256: disk.key, size: fs.statSync(disk.path).size, format: 'raw', arch: 'aarch64' },
  };
  const workDir = path.join(work, `agent-work-${name}`);
  const started = Date.now();
  const result = await runAttempt(job, new AbortController().signal, {
    agentId: () => 'agent',
    findSuite: (id) => (id === suite.id ? suite : undefined),
    fetchImage: async () => disk.path,
    faultDelayMs: 0,
    liveVm: watchedQemuVm(workDir, probe, onBoot),
  });
  for (const v of result.verdicts) verdictRecordSchema.parse(v);
  const console = Buffer.from(
    result.artifacts.find((a) => a.name === 'console.log')!.contentBase64,
    'base64',
  ).toString();
  const seconds = (Date.now() - started) / 1000;
  return {
    result,
    console,
    seconds,
    byRule: new Map<string, VerdictRecord>(result.verdicts.map((v) => [v.clause, v])),
  };
}

test('VBSA on qemu-aarch64-tcg (GICv3, booted with ACPI): a verdict per rule, counted as the ACS Summary counts', async (t) => {
  if (unavailable) return t.skip(unavailable);
  // VBSA 1.0.0 hangs on TCG in some runs in its two power-wakeup rules, V_L1WK_02 and V_L1WK_05
  // (GICv3 or v2 alike; here 4 of 8 runs hung, fixtures/vbsa/gicv2-acpi-hang.log is one): an ERROR
  // the farm retries. This test skips those two rules with Arm's own -skip argument (the payload's
  // startup arguments) and retries once, as the farm does, should another rule hang.
  const manifest = {
    ...MANIFEST,
    timeLimitSeconds: 180,
    startup: { ...MANIFEST.startup, args: ['-skip', 'V_L1WK_02,V_L1WK_05'] },
  };
  let run = await attempt('gicv3', manifest, AARCH64);
  if (run.result.verdicts.some((v) => v.verdict === 'ERROR')) {
    t.diagnostic(
      `attempt 1 ended ERROR (${run.result.verdicts.find((v) => v.verdict === 'ERROR')!.message}); attempt 2`,
    );
    run = await attempt('gicv3-2', manifest, AARCH64);
  }
  const { result, console, seconds, byRule } = run;
  const log = parseAcsLog(console, MANIFEST.endMarker);
  assert.equal(log.complete, true, console.slice(-2000));
  const summary = log.summary!;
  assert.equal(result.verdicts.length, summary.total, JSON.stringify(result.verdicts.map((v) => v.clause)));
  const n = (f: (v: VerdictRecord) => boolean) => result.verdicts.filter(f).length;
  assert.equal(
    n((v) => v.verdict === 'PASS' && !v.qualifier),
    summary.passed,
  );
  assert.equal(
    n((v) => v.qualifier === 'PARTIAL'),
    summary.partial,
  );
  assert.equal(
    n((v) => v.qualifier === 'WARNING'),
    summary.warnings,
  );
  assert.equal(
    n((v) => v.verdict === 'FAIL'),
    summary.failed,
  );
  assert.equal(
    n((v) => v.verdict === 'SKIP'),
    summary.skipped! + summary.palNotSupported! + summary.notImplemented!,
  );
  assert.equal(
    n((v) => v.verdict === 'ERROR'),
    0,
  );
  assert.equal(byRule.get('VBSA:V_L1GI_01')?.evidence.module, 'GIC');
  assert.deepEqual((byRule.get('VBSA:V_L1GI_01')?.evidence.run as { overrides: unknown }).overrides, {
    acpi: 'on',
  });
  // Rules left out with -skip are not run and have no verdict (not ERROR for "never reached").
  assert.deepEqual(log.skippedByArgs, ['V_L1WK_02', 'V_L1WK_05']);
  assert.equal(byRule.has('VBSA:V_L1WK_02'), false);
  t.diagnostic(
    `GICv3 + ACPI: ${JSON.stringify(summary)} in ${seconds.toFixed(1)} s (disk build, boot, payload)`,
  );
  const failed = log.rules.flatMap((r) => [r, ...r.subRules]).filter((r) => r.result === 'FAILED');
  t.diagnostic(
    `FAILED: ${failed.map((r) => `${r.id} (${r.description}): ${r.notes.join('; ')}`).join(' | ')}`,
  );
});

test('a payload that hangs (QEMU stopped after the TIMER rules): ERROR within its time limit for the rules not finished, partial log kept', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const manifest = { ...MANIFEST, timeLimitSeconds: 30 };
  const stopAfter = (s: QemuSession) =>
    void (async () => {
      while (!/V_L1TM_04[^\n]*\n\s*Result:\s+\S+/.test(s.console.transcript()))
        await new Promise((r) => setTimeout(r, 20));
      process.kill(s.pid!, 'SIGSTOP');
    })();
  const { result, console, seconds, byRule } = await attempt('hang', manifest, AARCH64, stopAfter);
  assert.match(console, /V_L1TM_04 : 408 : Check uniform passage of time in VE/);
  assert.doesNotMatch(console, /VBSA tests complete/);
  assert.equal(result.verdicts.length, 24);
  assert.equal(byRule.get('VBSA:V_L1TM_01')?.verdict, 'PASS');
  // Where QEMU stops depends on the host's load: judge against what the kept log shows. A rule
  // whose result was printed keeps it; every rule the log did not finish is ERROR, never PASS.
  const printed = new Set(
    parseAcsLog(console, MANIFEST.endMarker)
      .rules.filter((r) => r.result !== null)
      .map((r) => `VBSA:${r.id}`),
  );
  const unfinished = result.verdicts.filter((v) => !printed.has(v.clause));
  assert.ok(unfinished.length > 0, 'the stopped payload left rules unfinished');
  for (const v of unfinished) {
    assert.equal(v.verdict, 'ERROR', v.clause);
    assert.match(v.message, /the payload's time limit of 30 s ran out/);
  }
  assert.ok(seconds < 30 + 120, `ended after ${seconds} s`);
  t.diagnostic(`a hung payload ended after ${seconds.toFixed(1)} s (boot + 30 s limit)`);
});
