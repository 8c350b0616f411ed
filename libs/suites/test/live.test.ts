/**
 * The live suites without QEMU: the report parser, the pure judges, and each suite's `run()` end to
 * end on a scripted VM (@vmfarm/session/testing) whose console replays a recorded boot and answers the reference
 * guest's commands. The suites' own waits (the 2 s timer tick, the 1 s hotplug polls and their 20 s
 * window) run on node:test's mocked setTimeout and Date, so no test waits for them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  qemuProfileSchema,
  verdictRecordSchema,
  type QemuTargetProfile,
  type TargetProfile,
  type VerdictRecord,
} from '@vmfarm/protocol';
import {
  consoleSuite,
  descriptionSuite,
  enumerationMismatches,
  gicSuite,
  hotplugSuite,
  judgeTimer,
  nvramSuite,
  parseReport,
  PROBE_GUID,
  PROBE_NAME,
  readStore,
  refuseGic,
  timerSuite,
  type GuestReport,
  type NvramObservation,
  type PlugTrial,
  type Suite,
  type SuiteContext,
} from '../src';
import {
  FakeVm,
  GOOD,
  PREAMBLE,
  RECORDED_REPORT,
  SCRATCH_SECTORS,
  type FakeVmOptions,
} from '@vmfarm/session/testing';
import { buildStore } from './store';

/** The bundled profiles the suites run on in CI, as the repository ships them. */
const bundled = (id: string) =>
  qemuProfileSchema.parse(
    JSON.parse(readFileSync(join(__dirname, '../../../../deploy/targets', `${id}.json`), 'utf8')),
  );
const AARCH64 = bundled('qemu-aarch64-tcg');
const AARCH32 = bundled('qemu-aarch32-tcg');
const STATIC: TargetProfile = { id: 'static', kind: 'static', description: '', arch: ['aarch64', 'aarch32'] };
const LIVE_SUITES: readonly Suite[] = [
  consoleSuite,
  gicSuite,
  descriptionSuite,
  timerSuite,
  hotplugSuite,
  nvramSuite,
];

/** The ready stage's limit is the wait for readiness, which the fake's virtual time ends at once. */
const DAY = { boot: 86_400, ready: 180, act: 86_400, observe: 86_400, judge: 86_400 };

/** A fake VM for `profile` and a context for a suite, in a temporary directory removed after the test. */
function setup(t: TestContext, options: Partial<FakeVmOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-live-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const profile = options.profile ?? AARCH64;
  const imagePath = join(dir, 'disk.img');
  writeFileSync(imagePath, Buffer.alloc(64 * 1024, 0xa5));
  const vm = new FakeVm({ store: buildStore, ...options, profile, dir });
  const ctx: SuiteContext = {
    imagePath,
    arch: profile.arch[0],
    // The clock is mocked (run() below) while file reads take real time: a day for every stage, so
    // that no stage limit is met by accident here (the stage tests use real time).
    target: { ...profile, stageLimits: DAY },
    signal: new AbortController().signal,
    vm,
  };
  return { vm, ctx };
}

/**
 * Runs `suite` with the clock mocked (setTimeout and Date advance 250 ms per turn of the event loop)
 * and checks what every run must give: one schema-valid, JSON-clean verdict per clause, in order.
 */
async function run(t: TestContext, suite: Suite, ctx: SuiteContext): Promise<Record<string, VerdictRecord>> {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  let done = false;
  const running = suite.run(ctx).finally(() => (done = true));
  try {
    while (!done) {
      await new Promise((r) => setImmediate(r));
      t.mock.timers.tick(250);
    }
  } finally {
    t.mock.timers.reset();
  }
  const outcome = await running;
  for (const v of outcome.verdicts) {
    verdictRecordSchema.parse(v);
    assert.equal(v.suite, suite.id);
    assertJson(v.evidence, `${v.clause}.evidence`);
  }
  assert.deepEqual(
    outcome.verdicts.map((v) => v.clause),
    [...suite.clauses],
    'one verdict per clause, in the suite order',
  );
  assert.deepEqual(outcome.image, { format: 'raw', arch: ctx.arch });
  return Object.fromEntries(outcome.verdicts.map((v) => [v.clause, v]));
}

/** Evidence is stored as JSON: plain objects, arrays, strings, finite numbers, booleans, null. */
function assertJson(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') return assert.ok(Number.isFinite(value), `${where} is ${value}`);
  if (Array.isArray(value)) return value.forEach((x, i) => assertJson(x, `${where}[${i}]`));
  assert.equal(typeof value, 'object', `${where} is a ${typeof value}`);
  assert.equal(Object.getPrototypeOf(value), Object.prototype, `${where} is not a plain object`);
  for (const [k, x] of Object.entries(value as object)) if (x !== undefined) assertJson(x, `${where}.${k}`);
}

const summary = (v: Record<string, VerdictRecord>) => Object.values(v).map((x) => `${x.clause}:${x.verdict}`);
const explain = (v: Record<string, VerdictRecord>) =>
  Object.values(v)
    .map((x) => `${x.clause} ${x.verdict}: ${x.message}`)
    .join('\n');

// --- 1. the report parser ---

test('parseReport: after a reboot the last complete block before `end` wins; key=value lines', () => {
  const second = GOOD.slice(GOOD.indexOf('VMFARM-REPORT-BEGIN'))
    .replace('gic=v3', 'gic=v2')
    .replace('uptime_s=3.51', 'uptime_s=7.02   ');
  const transcript = `${GOOD}\nvmfarm reboot\nVMFARM-OK reboot\n${PREAMBLE}${second}`;
  const secondAt = transcript.lastIndexOf('VMFARM-REPORT-BEGIN');

  const last = parseReport(transcript)!;
  assert.equal(last.gic, 'v2');
  assert.equal(last.uptime_s, '7.02', 'values are trimmed');
  // Only the first '=' separates: values may hold '=' themselves.
  assert.equal(last.cmdline, 'BOOT_IMAGE=/vmfarm/linux quiet');
  assert.equal(last.efi_systab, 'SMBIOS3=0x7fed0000');
  assert.equal(last.efi_config_tables, 'SMBIOS 3.0,MEMATTR,MEMRESERVE');
  assert.equal(last.report_version, '1');
  assert.equal(Object.keys(last).length, 25);
  assert.ok(!('VMFARM-REPORT-BEGIN' in last) && !('VMFARM-READY' in last));

  const first = parseReport(transcript, secondAt)!;
  assert.equal(first.gic, 'v3');
  assert.equal(first.uptime_s, '3.51');
  assert.deepEqual(first, RECORDED_REPORT);
  assert.deepEqual({ ...first, gic: 'v2', uptime_s: '7.02' }, last);

  // `end` inside the second block: that block is not finished, so there is no report to read.
  assert.equal(parseReport(transcript, transcript.indexOf('cpus=', secondAt)), undefined);
  assert.equal(parseReport(PREAMBLE), undefined, 'no block at all');
  assert.equal(parseReport('VMFARM-REPORT-BEGIN\narch=aarch64\n'), undefined, 'a block without its end');
  assert.deepEqual(
    parseReport('VMFARM-REPORT-BEGIN\n=x\nno equals sign\nk= v \nVMFARM-REPORT-END\n'),
    { k: 'v' },
    'lines without a key are left out',
  );
});

// --- 2. the suites on a scripted VM ---

test('console: a well-behaved reference guest passes on PL011 and virtio-console, one VM at a time', async (t) => {
  const { vm, ctx } = setup(t);
  const v = await run(t, consoleSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-CONSOLE:PASS', 'GUEST-CONSOLE:PASS'], explain(v));
  assert.match(
    v['PLAT-CONSOLE'].message,
    /^the VM's pl011 console carried the firmware's banner \("UEFI firmware \(version .*"\) and the guest's "VMFARM-READY"$/,
  );
  assert.match(
    v['GUEST-CONSOLE'].message,
    /on pl011 \("VMFARM-READY", kernel consoles ttyAMA0,tty0\) and virtio-console \("VMFARM-READY", kernel consoles hvc0,tty0\)$/,
  );
  assert.deepEqual(vm.asked, [{}, { console: 'virtio-console' }]);
  assert.equal(vm.maxOpen, 1);
  assert.ok(vm.sessions.every((s) => s.closed));
});

test('gic: a well-behaved reference guest passes on GICv3 and on GICv2', async (t) => {
  const { vm, ctx } = setup(t);
  const v = await run(t, gicSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-GIC:PASS', 'GUEST-GIC:PASS'], explain(v));
  assert.equal(
    v['PLAT-GIC'].message,
    'the VM has a GICv3 (virt,gic-version=3,acpi=off); this host can give a VM GICv2 and v3; the guest sees v3',
  );
  assert.equal(
    v['GUEST-GIC'].message,
    'ready on GICv3 ("VMFARM-READY", gic=v3); ready on GICv2 ("VMFARM-READY", gic=v2)',
  );
  assert.deepEqual(vm.asked, [{}, { gic: 2 }]);
  assert.equal(vm.maxOpen, 1);
});

test('description: a well-behaved reference guest passes the FDT-only and the ACPI-only boot', async (t) => {
  const { vm, ctx } = setup(t);
  const v = await run(t, descriptionSuite, ctx);
  assert.deepEqual(
    summary(v),
    ['HW-DESC:PASS', 'HW-ENUM:PASS', 'GUEST-DESC:PASS', 'PLAT-EXEC:PASS'],
    explain(v),
  );
  assert.equal(
    v['HW-DESC'].message,
    'fdt boot: FDT (compatible linux,dummy-virt); acpi boot: ACPI tables APIC,DBG2,DSDT,FACP,GTDT,IORT,MCFG,PPTT,SPCR (RSDP in the UEFI configuration table)',
  );
  assert.equal(
    v['GUEST-DESC'].message,
    'the guest booted from the FDT alone ("VMFARM-READY") and from ACPI alone ("VMFARM-READY")',
  );
  assert.match(v['HW-ENUM'].message, /1 CPU\(s\), 989856 kB, 6 PCI functions, consoles ttyAMA0,tty0$/);
  assert.equal(v['PLAT-EXEC'].message, 'the vCPUs run the guest in the aarch64 execution state');
  assert.deepEqual(vm.asked, [{ acpi: 'off' }, { acpi: 'on' }]);
  assert.equal(vm.maxOpen, 1);
});

test('timer: a well-behaved reference guest passes, the message names the frequency', async (t) => {
  const { vm, ctx } = setup(t);
  const v = await run(t, timerSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-TIMER:PASS'], explain(v));
  assert.equal(
    v['PLAT-TIMER'].message,
    'the generic timer is described (FDT arm,armv8-timer), runs at 62.50 MHz on the virt counter (clocksource arch_sys_counter), and ticked: 1150 then 1400 interrupts',
  );
  assert.deepEqual(vm.sessions[0].commands, ['report'], 'one fresh report after the first');
});

test('hotplug: a well-behaved reference guest lists, then releases virtio-blk and virtio-net', async (t) => {
  const { vm, ctx } = setup(t);
  const v = await run(t, hotplugSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-HOTPLUG:PASS', 'GUEST-HOTPLUG:PASS'], explain(v));
  assert.equal(
    v['PLAT-HOTPLUG'].message,
    '4 hotplug-capable PCIe root ports; virtio-blk on rp1, virtio-net on rp1 added while the guest ran (query-pci), and removed (DEVICE_DELETED)',
  );
  assert.equal(
    v['GUEST-HOTPLUG'].message,
    `the guest listed each device once added (VMFARM-OK blk n=2 vda=266240@0000:00:01.0 vdb=${SCRATCH_SECTORS}@0000:01:00.0 / VMFARM-OK net n=1 eth0=52:54:00:76:6d:02@0000:01:00.0) and released it on removal`,
  );
  const trials = v['GUEST-HOTPLUG'].evidence.trials as PlugTrial[];
  assert.deepEqual(
    trials.map((x) => [x.kind, x.onBus, x.removed, x.goneInGuest]),
    [
      ['blk', 'rp1', true, true],
      ['net', 'rp1', true, true],
    ],
  );
  assert.deepEqual(
    vm.sessions[0].commands,
    ['blk', 'blk', 'blk', 'net', 'net', 'net'],
    'listed before, once added, once gone',
  );
});

test('hotplug: a guest that lists a device only on the third look still passes (the suite polls)', async (t) => {
  const { vm, ctx } = setup(t, { noticeAfter: 2 });
  const v = await run(t, hotplugSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-HOTPLUG:PASS', 'GUEST-HOTPLUG:PASS'], explain(v));
  assert.deepEqual(vm.sessions[0].commands, [
    'blk',
    'blk',
    'blk',
    'blk',
    'blk',
    'net',
    'net',
    'net',
    'net',
    'net',
  ]);
});

test('nvram: a new instance that prints nothing is ERROR for FW-NVRAM-INSTANCE, never a PASS on host evidence alone', async (t) => {
  const { ctx } = setup(t, { guest: ({ instance }) => (instance === 2 ? 'silent' : 'reference') });
  const v = await run(t, nvramSuite, ctx);
  assert.deepEqual(summary(v), ['FW-NVRAM:PASS', 'FW-NVRAM-INSTANCE:ERROR'], explain(v));
  assert.match(v['FW-NVRAM-INSTANCE'].message, /^the new instance: no console output from the VM/);
});

test('hotplug: a boot disk of the scratch disk size is not taken for the hot-added one', async (t) => {
  const { ctx } = setup(t, { bootDiskSectors: SCRATCH_SECTORS });
  const v = await run(t, hotplugSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-HOTPLUG:PASS', 'GUEST-HOTPLUG:PASS'], explain(v));
});

test('nvram: the probe survives reboot, reset and power cycle in a real store; a new instance starts clean', async (t) => {
  const { vm, ctx } = setup(t);
  const v = await run(t, nvramSuite, ctx);
  assert.deepEqual(summary(v), ['FW-NVRAM:PASS', 'FW-NVRAM-INSTANCE:PASS'], explain(v));
  assert.match(
    v['FW-NVRAM'].message,
    /^VmfarmNvramProbe = [0-9a-f]{16}, set by the guest with NON_VOLATILE, survived the guest reboot, the reset, the power cycle; the host's store holds it \(5 variables\)$/,
  );
  assert.match(
    v['FW-NVRAM-INSTANCE'].message,
    /^a new instance started from the template \(a fresh copy of .* for instance 2\) and its guest did not see VmfarmNvramProbe; the image file is unchanged \(sha256 [0-9a-f]{12}…\)$/,
  );

  const o = v['FW-NVRAM'].evidence as unknown as NvramObservation;
  assert.match(o.written!, /^[0-9a-f]{16}$/);
  assert.deepEqual(
    o.survivals.map((s) => [s.after, s.guest, s.survived, s.store.probe, s.store.problems]),
    ['guest reboot', 'reset', 'power cycle'].map((after) => [
      after,
      `data=${o.written}`,
      true,
      o.written,
      [],
    ]),
  );
  assert.ok(o.survivals[0].store.variables.includes(`${PROBE_NAME}-${PROBE_GUID.toUpperCase()}`));
  assert.ok(o.survivals[0].store.variables.includes('PlatformLang-EFI global'));
  assert.deepEqual(o.second.store, {
    variables: [
      'PlatformLang-EFI global',
      'Timeout-EFI global',
      'BootOrder-EFI global',
      'MTC-monotonic counter',
    ],
    probe: null,
    problems: [],
  });
  assert.equal(o.second.guest, 'not-found');
  assert.equal(o.image.before, o.image.after);

  const [first, second] = vm.sessions;
  assert.deepEqual(
    first.commands.map((c) => c.split(' ')[0]),
    ['setvar', 'reboot', 'getvar', 'getvar', 'getvar'],
  );
  assert.equal(first.commands[0], `setvar ${PROBE_NAME} ${PROBE_GUID} ${o.written}`);
  assert.deepEqual(first.restarts, ['reset', 'power cycle']);
  assert.equal(first.boots, 4);
  assert.deepEqual(second.commands, [`getvar ${PROBE_NAME} ${PROBE_GUID}`]);
  assert.equal(vm.maxOpen, 1, 'instance 1 is closed before instance 2 starts');
  // The store file the suite read is an edk2 store the parser takes without a problem.
  const store = await readStore(first.storeFile);
  assert.equal(store.probe, o.written);
  assert.deepEqual(store.problems, []);
});

test('hotplug on aarch32: the guest never lists the devices: GUEST-HOTPLUG FAIL, the VM part passes', async (t) => {
  // The 20 s notice window and the 15 s removal wait pass on the mocked clock.
  const { vm, ctx } = setup(t, { profile: AARCH32, guestTakes: [] });
  const v = await run(t, hotplugSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-HOTPLUG:PASS', 'GUEST-HOTPLUG:FAIL'], explain(v));
  assert.equal(
    v['PLAT-HOTPLUG'].message,
    '4 hotplug-capable PCIe root ports; virtio-blk on rp1, virtio-net on rp2 added while the guest ran (query-pci)',
  );
  const m = v['GUEST-HOTPLUG'].message;
  for (const kind of ['blk', 'net']) {
    assert.ok(
      m.includes(`the guest never listed the hot-added virtio-${kind} (20 s; virtio status none)`),
      m,
    );
    // A device the guest never took: the suite waits the shorter removal time.
    assert.ok(
      m.includes(
        `the guest did not release virtio-${kind}: timed out after 15000 ms awaiting QMP event DEVICE_DELETED for hp-${kind}`,
      ),
      m,
    );
  }
  assert.doesNotMatch(m, /last console lines/);
  const commands = vm.sessions[0].commands;
  assert.ok(commands.filter((c) => c === 'blk').length > 5, 'the guest was asked again and again');
  assert.ok(commands.filter((c) => c === 'net').length > 5);
});

test('hotplug with zero ports: PLAT-HOTPLUG FAIL, GUEST-HOTPLUG SKIP, nothing plugged', async (t) => {
  const { vm, ctx } = setup(t, { hotplugPorts: 0 });
  const v = await run(t, hotplugSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-HOTPLUG:FAIL', 'GUEST-HOTPLUG:SKIP'], explain(v));
  assert.match(v['PLAT-HOTPLUG'].message, /the VM offers no hotplug-capable port/);
  assert.match(v['GUEST-HOTPLUG'].message, /^not judged: the VM has no hotpluggable bus/);
  assert.deepEqual(v['PLAT-HOTPLUG'].evidence.trials, []);
  assert.deepEqual(vm.sessions[0].commands, []);
});

test('nvram: the probe is gone after the power cycle: FW-NVRAM FAIL naming it; the new instance passes', async (t) => {
  const { vm, ctx } = setup(t, { nvram: 'volatile' });
  const v = await run(t, nvramSuite, ctx);
  assert.deepEqual(summary(v), ['FW-NVRAM:FAIL', 'FW-NVRAM-INSTANCE:PASS'], explain(v));
  assert.match(
    v['FW-NVRAM'].message,
    /^VmfarmNvramProbe \(set to [0-9a-f]{16} by the guest\) was gone after the power cycle: the guest read not-found; the host's store holds 4 variables, not the probe$/,
  );
  const o = v['FW-NVRAM'].evidence as unknown as NvramObservation;
  assert.deepEqual(
    o.survivals.map((s) => [s.after, s.survived]),
    [
      ['guest reboot', true],
      ['reset', true],
      ['power cycle', false],
    ],
  );
  assert.deepEqual(vm.sessions[0].restarts, ['reset', 'power cycle']);
});

test('gic: a host that cannot give a VM GICv2: GUEST-GIC SKIP, PLAT-GIC still passes, one boot', async (t) => {
  const { vm, ctx } = setup(t, { gicAvailable: [3] });
  const v = await run(t, gicSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-GIC:PASS', 'GUEST-GIC:SKIP'], explain(v));
  assert.match(v['PLAT-GIC'].message, /this host can give a VM GICv3; the guest sees v3$/);
  assert.equal(
    v['GUEST-GIC'].message,
    'ready on GICv3 ("VMFARM-READY", gic=v3); this host cannot give a VM GICv2 with tcg (query-gic-capabilities), so that boot was not tried',
  );
  assert.deepEqual(vm.asked, [{}]);
});

test('gic: a guest that sees GICv3 on the GICv2 boot: GUEST-GIC FAIL', async (t) => {
  const { ctx } = setup(t, { report: (r, b) => (b.overrides.gic === 2 ? { ...r, gic: 'v3' } : r) });
  const v = await run(t, gicSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-GIC:PASS', 'GUEST-GIC:FAIL'], explain(v));
  assert.match(v['GUEST-GIC'].message, /GICv2: on GICv2 the guest reports gic=v3$/);
});

test('description on aarch32: the driver refuses the ACPI boot: a note, not a failure', async (t) => {
  const why = 'acpi=on needs a 64-bit guest: the 32-bit firmware publishes no ACPI tables';
  const { vm, ctx } = setup(t, {
    profile: AARCH32,
    refuse: (o) => (o.acpi === 'on' ? why : undefined),
  });
  const v = await run(t, descriptionSuite, ctx);
  assert.deepEqual(
    summary(v),
    ['HW-DESC:PASS', 'HW-ENUM:PASS', 'GUEST-DESC:PASS', 'PLAT-EXEC:PASS'],
    explain(v),
  );
  const note = `; acpi boot not tried: ${why}`;
  assert.equal(v['HW-DESC'].message, `fdt boot: FDT (compatible linux,dummy-virt)${note}`);
  assert.equal(v['GUEST-DESC'].message, `the guest booted from the FDT alone ("VMFARM-READY")${note}`);
  assert.equal(v['PLAT-EXEC'].message, 'the vCPUs run the guest in the armv7l execution state');
  assert.deepEqual(
    (v['HW-DESC'].evidence.boots as { mode: string; skipped: string | null }[]).map((b) => [
      b.mode,
      b.skipped,
    ]),
    [
      ['fdt', null],
      ['acpi', why],
    ],
  );
  assert.deepEqual(vm.asked, [{ acpi: 'off' }, { acpi: 'on' }]);
  assert.equal(vm.sessions.length, 1);
});

test('description: the guest finds fewer CPUs than the profile has: HW-ENUM FAIL, the rest passes', async (t) => {
  const { ctx } = setup(t, { profile: { ...AARCH64, smp: 2 }, report: (r) => ({ ...r, cpus: '1' }) });
  const v = await run(t, descriptionSuite, ctx);
  assert.deepEqual(
    summary(v),
    ['HW-DESC:PASS', 'HW-ENUM:FAIL', 'GUEST-DESC:PASS', 'PLAT-EXEC:PASS'],
    explain(v),
  );
  assert.equal(
    v['HW-ENUM'].message,
    "the guest's view differs from the VM: fdt boot: cpus=1, the profile has 2; acpi boot: cpus=1, the profile has 2",
  );
});

test('a distro-like image (login prompt, no report): SKIP with the reason where a report is needed', async (t) => {
  const distro = (suite: Suite) => {
    const { vm, ctx } = setup(t, { guest: 'distro' });
    return run(t, suite, ctx).then((v) => ({ v, vm }));
  };
  const noReport =
    'the image offers no reference-guest report: the guest view of CPUs, memory and devices cannot be read';

  const desc = await distro(descriptionSuite);
  assert.deepEqual(
    summary(desc.v),
    ['HW-DESC:PASS', 'HW-ENUM:SKIP', 'GUEST-DESC:PASS', 'PLAT-EXEC:SKIP'],
    explain(desc.v),
  );
  assert.equal(
    desc.v['GUEST-DESC'].message,
    'the guest booted from the FDT alone ("debian login:") and from ACPI alone ("debian login:")',
  );
  assert.equal(desc.v['HW-ENUM'].message, noReport);
  assert.equal(desc.v['PLAT-EXEC'].message, noReport);

  const timer = await distro(timerSuite);
  assert.deepEqual(summary(timer.v), ['PLAT-TIMER:SKIP'], explain(timer.v));
  assert.equal(
    timer.v['PLAT-TIMER'].message,
    `the image offers no reference-guest report ("debian login:" was its readiness line): the guest's view of the timer cannot be read`,
  );

  const nvram = await distro(nvramSuite);
  assert.deepEqual(summary(nvram.v), ['FW-NVRAM:SKIP', 'FW-NVRAM-INSTANCE:PASS'], explain(nvram.v));
  assert.match(
    nvram.v['FW-NVRAM'].message,
    /^the image offers no command loop to set a variable from the guest/,
  );
  assert.match(nvram.v['FW-NVRAM-INSTANCE'].message, /its store holds no VmfarmNvramProbe;/);

  // Where no report is needed the distro is judged like any guest: DRIVER_OK stands in for the listing.
  const hotplug = await distro(hotplugSuite);
  assert.deepEqual(summary(hotplug.v), ['PLAT-HOTPLUG:PASS', 'GUEST-HOTPLUG:PASS'], explain(hotplug.v));
  assert.match(hotplug.v['GUEST-HOTPLUG'].message, /DRIVER_OK, x-query-virtio-status/);
  for (const suite of [consoleSuite, gicSuite]) {
    const { v } = await distro(suite);
    assert.ok(
      Object.values(v).every((x) => x.verdict === 'PASS'),
      explain(v),
    );
  }
  for (const { vm } of [desc, timer, nvram, hotplug])
    for (const s of vm.sessions)
      assert.doesNotMatch(s.console.transcript(), /^vmfarm /m, 'no command is typed at a login prompt');
});

test('a VM that prints nothing, or whose process exits: ERROR for every clause of every suite', async (t) => {
  for (const guest of ['silent', 'exits'] as const)
    for (const suite of LIVE_SUITES) {
      const { ctx } = setup(t, { guest });
      const v = await run(t, suite, ctx);
      const what = `${suite.id} on a ${guest} VM:\n${explain(v)}`;
      assert.ok(
        Object.values(v).every((x) => x.verdict === 'ERROR'),
        what,
      );
      assert.ok(
        Object.values(v).every((x) => /no console output from the VM/.test(x.message)),
        what,
      );
      if (guest === 'exits')
        assert.ok(
          Object.values(v).every((x) => /QEMU exited with status 1/.test(x.message)),
          what,
        );
    }
});

test('a guest that never gets ready (firmware and GRUB output, then nothing): FAIL where the guest is judged, else SKIP', async (t) => {
  const expected: Record<string, string[]> = {
    console: ['PLAT-CONSOLE:PASS', 'GUEST-CONSOLE:FAIL'],
    gic: ['PLAT-GIC:PASS', 'GUEST-GIC:FAIL'],
    description: ['HW-DESC:SKIP', 'HW-ENUM:SKIP', 'GUEST-DESC:FAIL', 'PLAT-EXEC:SKIP'],
    timer: ['PLAT-TIMER:SKIP'],
    hotplug: ['PLAT-HOTPLUG:SKIP', 'GUEST-HOTPLUG:SKIP'],
    nvram: ['FW-NVRAM:SKIP', 'FW-NVRAM-INSTANCE:SKIP'],
  };
  for (const suite of LIVE_SUITES) {
    const { ctx } = setup(t, { guest: 'hangs' });
    const v = await run(t, suite, ctx);
    assert.deepEqual(summary(v), expected[suite.id], explain(v));
    for (const x of Object.values(v))
      if (x.verdict !== 'PASS') assert.match(x.message, /not ready within 180 s/);
  }
});

test('nvram: the guest does not come back after the reset: FW-NVRAM FAIL after the reset', async (t) => {
  const { vm, ctx } = setup(t, {
    guest: ({ instance, boot }) => (instance === 1 && boot === 3 ? 'hangs' : 'reference'),
  });
  const v = await run(t, nvramSuite, ctx);
  assert.deepEqual(summary(v), ['FW-NVRAM:FAIL', 'FW-NVRAM-INSTANCE:PASS'], explain(v));
  assert.equal(v['FW-NVRAM'].message, 'after the reset: the guest was not ready again within 180 s');
  const o = v['FW-NVRAM'].evidence as unknown as NvramObservation;
  assert.deepEqual(
    o.survivals.map((s) => s.after),
    ['guest reboot'],
  );
  assert.deepEqual(vm.sessions[0].restarts, ['reset'], 'no power cycle after the guest was lost');
});

test('timer: a guest that stops answering commands: ERROR naming the wait, never FAIL', async (t) => {
  const { ctx } = setup(t, { mute: ['report'] });
  const v = await run(t, timerSuite, ctx);
  assert.deepEqual(summary(v), ['PLAT-TIMER:ERROR'], explain(v));
  assert.match(v['PLAT-TIMER'].message, /^SessionTimeoutError: timed out after 30000 ms awaiting console /);
});

// --- 3. refuseGic ---

test('refuseGic: a qemu profile with more than 8 vCPUs is refused with the reason; 8 and static are not', () => {
  assert.equal(
    refuseGic({ ...AARCH64, smp: 16 }),
    'suite gic boots target qemu-aarch64-tcg on GICv2, which serves at most 8 vCPUs; the profile has 16 (run it on a profile with smp <= 8)',
  );
  assert.equal(refuseGic({ ...AARCH64, smp: 8 }), undefined);
  assert.equal(refuseGic(AARCH64), undefined);
  assert.equal(refuseGic(STATIC), undefined);
  assert.equal(gicSuite.refuse, refuseGic);
});

// --- 4. judgeTimer ---

const timerReport = (more: GuestReport = {}): GuestReport => ({
  timer: 'arch_timer',
  timer_freq_mhz: '62.50',
  timer_counter: 'virt',
  timer_compatible: 'arm,armv8-timer',
  clocksource: 'arch_sys_counter',
  timer_irqs: '1234',
  uptime_s: '3.14',
  ...more,
});

test('judgeTimer: described, bound and ticking: PASS naming the frequency (FDT or GTDT)', () => {
  const v = judgeTimer(timerReport(), timerReport({ timer_irqs: '1734', uptime_s: '5.20' }));
  verdictRecordSchema.parse(v);
  assert.equal(v.verdict, 'PASS');
  assert.equal(
    v.message,
    'the generic timer is described (FDT arm,armv8-timer), runs at 62.50 MHz on the virt counter (clocksource arch_sys_counter), and ticked: 1234 then 1734 interrupts',
  );
  assert.deepEqual(v.evidence.second, timerReport({ timer_irqs: '1734', uptime_s: '5.20' }));

  const acpi = timerReport({ acpi_tables: 'APIC,DSDT,FACP,GTDT,SPCR' });
  delete acpi.timer_compatible;
  const g = judgeTimer(acpi, { ...acpi, timer_irqs: '1300' });
  verdictRecordSchema.parse(g);
  assert.equal(g.verdict, 'PASS');
  assert.match(g.message, /described \(ACPI GTDT\), runs at 62\.50 MHz/);
  const armv7 = judgeTimer(
    timerReport({ timer_compatible: 'arm,armv7-timer' }),
    timerReport({ timer_irqs: '2000' }),
  );
  assert.equal(armv7.verdict, 'PASS');
});

test('judgeTimer: not described (no FDT timer node, no GTDT) is a FAIL', () => {
  const first = timerReport({ acpi_tables: 'APIC,DSDT,FACP,SPCR' });
  delete first.timer_compatible;
  const v = judgeTimer(first, { ...first, timer_irqs: '2000' });
  verdictRecordSchema.parse(v);
  assert.equal(v.verdict, 'FAIL');
  assert.equal(
    v.message,
    'not described: no arm,armv8-timer/armv7-timer FDT node (none) and no ACPI GTDT (tables APIC,DSDT,FACP,SPCR)',
  );
  const other = judgeTimer(
    timerReport({ timer_compatible: 'arm,sp804' }),
    timerReport({ timer_irqs: '2000' }),
  );
  assert.equal(other.verdict, 'FAIL');
  assert.match(other.message, /^not described: .*\(arm,sp804\) and no ACPI GTDT \(tables none\)$/);
});

test('judgeTimer: not ticking (the same interrupt count twice) is a FAIL; so is an unbound timer', () => {
  const v = judgeTimer(timerReport(), timerReport());
  verdictRecordSchema.parse(v);
  assert.equal(v.verdict, 'FAIL');
  assert.equal(v.message, 'not ticking: arch_timer interrupts 1234 then 1234');
  const unbound = judgeTimer(
    timerReport({ timer: 'none', timer_irqs: '0' }),
    timerReport({ timer: 'none', timer_irqs: '0' }),
  );
  assert.equal(unbound.verdict, 'FAIL');
  assert.equal(
    unbound.message,
    'the kernel did not bind the generic timer (timer=none); not ticking: arch_timer interrupts 0 then 0',
  );
});

// --- 5. enumerationMismatches ---

test('enumerationMismatches: the recorded report matches its profile; each difference is named', () => {
  const r = RECORDED_REPORT;
  assert.deepEqual(enumerationMismatches(AARCH64, r), []);
  assert.deepEqual(
    enumerationMismatches(STATIC, { ...r, cpus: '3' }),
    [],
    'a static target has no VM to compare',
  );
  const pci = r.pci.split(',');

  // Memory: above what the VM has, or well below it.
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, mem_total_kb: '1048577' }), [
    'MemTotal 1048577 kB, the VM has 1048576 kB',
  ]);
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, mem_total_kb: '500000' }), [
    'MemTotal 500000 kB, the VM has 1048576 kB',
  ]);
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, mem_total_kb: '1048576' }), []);
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, mem_total_kb: undefined as unknown as string }), [
    'MemTotal undefined kB, the VM has 1048576 kB',
  ]);

  // The disk: legacy or modern virtio-blk, but some virtio-blk.
  const noDisk = pci.filter((d) => !d.includes('@1af4:1001:')).join(',');
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, pci: noDisk }), ['no virtio-blk disk on PCI']);
  const modern = r.pci.replace('1af4:1001:010000', '1af4:1042:010000');
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, pci: modern }), []);
  const netNotDisk = r.pci.replace('1af4:1001:010000', '1af4:1000:020000');
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, pci: netNotDisk }), ['no virtio-blk disk on PCI']);

  // Root ports: fewer than the profile's hotplug ports.
  const twoPorts = pci.slice(0, 4).join(',');
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, pci: twoPorts }), [
    '2 PCIe root ports, the profile has 4',
  ]);
  assert.deepEqual(enumerationMismatches({ ...AARCH64, hotplugPorts: 2 }, { ...r, pci: twoPorts }), []);

  // The console: the PL011 must be a kernel console; a virtio-console profile needs the device.
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, console: 'hvc0,tty0' }), [
    "the kernel's consoles are hvc0,tty0, not the PL011 (ttyAMA0)",
  ]);
  assert.deepEqual(enumerationMismatches(AARCH64, { ...r, console: '' }), [
    "the kernel's consoles are none, not the PL011 (ttyAMA0)",
  ]);
  const virtioConsole: QemuTargetProfile = { ...AARCH64, console: 'virtio-console' };
  assert.deepEqual(enumerationMismatches(virtioConsole, { ...r, console: 'hvc0' }), [
    'no virtio-console device on PCI',
  ]);
  assert.deepEqual(
    enumerationMismatches(virtioConsole, {
      ...r,
      console: 'hvc0',
      pci: `${r.pci},0000:00:06.0@1af4:1043:078000`,
    }),
    [],
  );

  // Several at once, in order.
  assert.deepEqual(enumerationMismatches({ ...AARCH64, smp: 4 }, { ...r, pci: noDisk, console: 'hvc0' }), [
    'cpus=1, the profile has 4',
    'no virtio-blk disk on PCI',
    "the kernel's consoles are hvc0, not the PL011 (ttyAMA0)",
  ]);
});
