/**
 * Stage limits and blame on the scripted fake VM, in real time (the stage runner's clock is not
 * mocked here): a stage that hangs ends ERROR naming it, with every VM closed; a hung or lost VM is
 * ERROR, never the image's FAIL; a kernel panic or the firmware's Access Denied ends the wait at once,
 * as the image's FAIL with the line as evidence; a vm clause is not judged on an image that failed
 * its static checks; a hostile readiness pattern runs on RE2.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { qemuProfileSchema, verdictFor, type StageLimits, type VerdictRecord } from '@vmfarm/protocol';
import { FakeVm, PANIC_TAIL, type FakeVmOptions } from '@vmfarm/session/testing';
import {
  bootSuite,
  hotplugSuite,
  readyPatterns,
  runLive,
  startInstance,
  type Suite,
  type SuiteContext,
} from '../src';
import { buildStore } from './store';

const AARCH64 = qemuProfileSchema.parse(
  JSON.parse(readFileSync(join(__dirname, '../../../../deploy/targets/qemu-aarch64-tcg.json'), 'utf8')),
);

function setup(
  t: TestContext,
  stageLimits: StageLimits,
  options: Partial<FakeVmOptions> = {},
  more: Partial<SuiteContext> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-stages-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const imagePath = join(dir, 'disk.img');
  writeFileSync(imagePath, Buffer.alloc(4096));
  const vm = new FakeVm({ store: buildStore, ...options, profile: AARCH64, dir });
  const ctx: SuiteContext = {
    imagePath,
    arch: 'aarch64',
    target: { ...AARCH64, stageLimits },
    signal: new AbortController().signal,
    vm,
    ...more,
  };
  return { vm, ctx, dir };
}

async function run(suite: Suite, ctx: SuiteContext): Promise<Record<string, VerdictRecord>> {
  const outcome = await suite.run(ctx);
  return Object.fromEntries(outcome.verdicts.map((v) => [v.clause, v]));
}
const summary = (v: Record<string, VerdictRecord>) => Object.values(v).map((x) => `${x.clause}:${x.verdict}`);
const explain = (v: Record<string, VerdictRecord>) =>
  Object.values(v)
    .map((x) => `${x.clause} ${x.verdict}: ${x.message}`)
    .join('\n');

test('a stage that hangs (the VM stops answering mid-suite) ends ERROR naming the stage, its VMs closed', async (t) => {
  const { vm, ctx, dir } = setup(t, { act: 1 }, { guest: 'freezes' });
  const v = await run(hotplugSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-HOTPLUG:ERROR', 'GUEST-HOTPLUG:ERROR'], explain(v));
  for (const x of Object.values(v)) {
    assert.equal(
      x.message,
      'the act stage (add and remove blk and net) overran its limit of 1 s; its VMs were closed',
    );
    assert.equal(x.evidence.stage, 'act');
  }
  assert.ok(vm.sessions.length === 1 && vm.sessions.every((s) => s.closed), 'every VM is closed');
  assert.deepEqual(readdirSync(dir), ['disk.img'], 'no file left');
});

test('the suite signal fires on a stage limit', async (t) => {
  const { ctx } = setup(t, { act: 1 }, { guest: 'freezes' });
  let signal: AbortSignal | undefined;
  await runLive(ctx, 'hotplug', ['PLAT-HOTPLUG'], async (_out, stages, inner) => {
    signal = inner.signal;
    await startInstance(stages, readyPatterns());
    await stages.run('act', 'wait for nothing', () => new Promise(() => {}));
  });
  assert.ok(signal?.aborted);
  assert.equal((signal.reason as Error).name, 'StageTimeoutError');
});

test('a VM that stops (a SIGSTOPped QEMU) while the guest boots is ERROR for every clause, never FAIL', async (t) => {
  const { vm, ctx } = setup(t, { ready: 1 }, { guest: 'frozen' });
  const v = await run(bootSuite, ctx);
  assert.deepEqual(summary(v), ['FW-UEFI:ERROR', 'FW-DEFAULT-BOOT:ERROR', 'IMG-NO-VARS:ERROR'], explain(v));
  assert.equal(
    v['IMG-NO-VARS'].message,
    'the VM stopped running before the guest was ready: QEMU did not answer query-status within 5000 ms: it is hung',
  );
  assert.equal(vm.sessions.length, 1);
});

test('a VM lost mid-boot (its process died) is ERROR, never FAIL', async (t) => {
  const { ctx } = setup(t, { ready: 60 }, { guest: 'lost' });
  const v = await run(bootSuite, ctx);
  assert.deepEqual(summary(v), ['FW-UEFI:ERROR', 'FW-DEFAULT-BOOT:ERROR', 'IMG-NO-VARS:ERROR'], explain(v));
  assert.match(
    v['IMG-NO-VARS'].message,
    /^the VM went away before the guest was ready: QEMU exited with status 1 while awaiting console /,
  );
});

test('a kernel panic ends the wait at once: FAIL of the image with the panic line; the firmware did its part', async (t) => {
  // A day to get ready: only the panic line can end this wait (the console stays open in real time).
  const { ctx } = setup(t, { ready: 86_400 }, { guest: 'panics' });
  const v = await run(bootSuite, ctx);
  assert.deepEqual(summary(v), ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:PASS', 'IMG-NO-VARS:FAIL'], explain(v));
  const panic = PANIC_TAIL.split('\n').find((l) => l.includes('Kernel panic'))!;
  assert.equal(
    v['IMG-NO-VARS'].message,
    `the image did not boot with an empty variable store: the kernel panicked: "${panic}"`,
  );
  assert.equal(v['IMG-NO-VARS'].evidence.fatal, panic);
});

test("the firmware's Access Denied ends the wait at once; the VM is not judged on an image that failed its static checks", async (t) => {
  const denied =
    'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0): Access Denied';
  // Unknown or clean static checks: the firmware refused an image nothing is known against.
  for (const staticVerdicts of [undefined, [verdictFor('static', 'IMG-GPT', 'PASS', 'ok')]]) {
    const { ctx } = setup(
      t,
      { ready: 86_400 },
      { guest: 'denied' },
      staticVerdicts ? { staticVerdicts } : {},
    );
    const v = await run(bootSuite, ctx);
    assert.deepEqual(summary(v), ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:FAIL', 'IMG-NO-VARS:FAIL'], explain(v));
    assert.match(v['FW-DEFAULT-BOOT'].message, /Access Denied/);
    assert.equal(v['IMG-NO-VARS'].evidence.fatal, denied);
  }
  const broken = [
    verdictFor('static', 'IMG-GPT', 'PASS', 'ok'),
    verdictFor('static', 'IMG-REMOVABLE-PATH', 'FAIL', 'no \\EFI\\BOOT\\BOOTAA64.EFI'),
    verdictFor('static', 'IMG-FW-NOT-BUNDLED', 'FAIL', 'a SHOULD: does not count'),
  ];
  const { ctx } = setup(t, { ready: 86_400 }, { guest: 'denied' }, { staticVerdicts: broken });
  const v = await run(bootSuite, ctx);
  assert.deepEqual(summary(v), ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:SKIP', 'IMG-NO-VARS:FAIL'], explain(v));
  assert.match(
    v['FW-DEFAULT-BOOT'].message,
    /^not judged: the image failed IMG-REMOVABLE-PATH \(static checks\), so ".*Access Denied.*" is the image's doing$/,
  );
  for (const x of Object.values(v))
    assert.deepEqual(x.evidence.imageChecks, { passed: false, failed: ['IMG-REMOVABLE-PATH'] });
});

test('a hostile readiness pattern runs on RE2: 40-character words on the console do not stall the suite', async (t) => {
  const { ctx } = setup(
    t,
    { ready: 60 },
    { report: (r) => ({ ...r, words: `${'a'.repeat(40)} ${'b'.repeat(4000)}` }) },
    { ready: '(\\w|\\w)*#' },
  );
  const v = await run(bootSuite, ctx);
  assert.deepEqual(summary(v), ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:PASS', 'IMG-NO-VARS:PASS'], explain(v));
  assert.match(v['IMG-NO-VARS'].evidence.pattern as string, /VMFARM-READY/);
});
