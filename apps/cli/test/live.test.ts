import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '@vmfarm/host';
import { matrixReportSchema, type MatrixReport } from '@vmfarm/protocol';
import { startServe, vmfarm, type Serve } from './serve-helpers';

// The live matrix of the issue, end to end, every part real: `vmfarm serve` (private Redis, SQLite,
// two local agents driving QEMU under TCG with Debian's AAVMF), the reference guests of both
// architectures built from Debian's packages, `vmfarm target add` for user profiles, and
// `vmfarm submit … --suites all --wait`. Then the broken VM implementations, each caught by its clause.

const ROOT = resolve(__dirname, '../../../..');
const dir = mkdtempSync(join(tmpdir(), 'vmfarm-cli-live-'));
const data = join(dir, 'data');
const env = { ...process.env, REDIS_URL: '', DATABASE_URL: '' };
let serve: Serve;
const guest: Record<'aarch64' | 'aarch32', string> = { aarch64: '', aarch32: '' };

const buildGuest = (arch: string) =>
  execFileSync('bash', [join(ROOT, 'fixtures/guest/build.sh'), arch, join(dir, 'guest')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 1_800_000,
  })
    .trim()
    .split('\n')
    .pop()!;

// The CLI authenticates with the admin token serve wrote under its data dir.
const cli = (args: string[]) => vmfarm(args, { ...env, VMFARM_CONTROLLER: serve.url, VMFARM_DATA: data });

/** `submit --wait --format json`: the report and the exit code. */
async function submit(
  args: string[],
): Promise<{ code: number | null; report: MatrixReport; stderr: string }> {
  const r = await cli(['submit', ...args, '--wait', '--format', 'json', '--timeout', '2400']);
  assert.ok(r.stdout.trim().startsWith('{'), `exit ${r.code}: ${r.stderr}`);
  return { code: r.code, report: matrixReportSchema.parse(JSON.parse(r.stdout)), stderr: r.stderr };
}

/** `clause: VERDICT` of every verdict of the cells of one image on one target, suite by suite. */
function verdicts(report: MatrixReport, image: string, target: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const cell of report.cells.filter((c) => c.image.sha256 === image && c.target === target))
    for (const v of cell.verdicts) out[`${cell.suite}/${v.clause}`] = v.verdict;
  return out;
}

const message = (report: MatrixReport, clause: string) =>
  report.cells.flatMap((c) => c.verdicts).find((v) => v.clause === clause)?.message ?? '';

before(async () => {
  guest.aarch64 = buildGuest('aarch64');
  guest.aarch32 = buildGuest('aarch32');
  serve = await startServe(['--port', String(await freePort()), '--data', data, '--agents', '2'], env);
});

after(async () => {
  if (serve && serve.process.exitCode === null) await serve.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('target add takes user profiles over the bundled ones and refuses bad ones with every problem', async () => {
  const profiles: Record<string, object> = {
    'tcg-no-hotplug': { extends: 'qemu-aarch64-tcg', hotplugPorts: 0 },
    'tcg-volatile-nvram': { extends: 'qemu-aarch64-tcg', nvram: 'volatile' },
    'tcg-secure-boot': { extends: 'qemu-aarch64-tcg', firmwareVars: 'AAVMF_VARS.ms.fd' },
    'tcg-16-cpus': { extends: 'qemu-aarch64-tcg', smp: 16 },
  };
  for (const [id, body] of Object.entries(profiles)) {
    const file = join(dir, `${id}.json`);
    writeFileSync(file, JSON.stringify({ id, ...body }));
    const r = await cli(['target', 'add', file]);
    assert.equal(r.code, 0, r.stderr);
    const resolved = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(resolved.id, id);
    assert.equal(resolved.binary, 'qemu-system-aarch64', 'the rest comes from the base profile');
  }
  writeFileSync(
    join(dir, 'bad.json'),
    JSON.stringify({ id: 'bad', extends: 'qemu-aarch64-tcg', gic: 4, nvram: 'x' }),
  );
  const bad = await cli(['target', 'add', join(dir, 'bad.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /gic: must be one of 2, 3/);
  assert.match(bad.stderr, /nvram: must be one of "persistent", "volatile"/);
  const list = await cli(['target', 'list']);
  assert.equal(list.code, 0, list.stderr);
  for (const id of [...Object.keys(profiles), 'qemu-aarch64-tcg', 'qemu-aarch32-tcg'])
    assert.match(list.stdout, new RegExp(`^${id} `, 'm'));
  assert.doesNotMatch(list.stdout, /^bad /m);
});

test('a GICv2 fallback boot with more than 8 vCPUs is refused when the matrix is planned', async () => {
  const r = await cli(['submit', guest.aarch64, '--targets', 'tcg-16-cpus', '--suites', 'boot,gic']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /suite gic boots target tcg-16-cpus on GICv2, which serves at most 8 vCPUs; the profile has 16/,
  );
});

test('every suite on both architectures: the verdicts the clauses call for', async () => {
  const { code, report, stderr } = await submit([
    guest.aarch64,
    guest.aarch32,
    '--targets',
    'qemu-aarch64-tcg,qemu-aarch32-tcg',
    '--suites',
    'all',
  ]);
  const dump = JSON.stringify(
    report.cells.map((c) => [
      c.target,
      c.suite,
      c.verdicts.map((v) => `${v.clause}:${v.verdict} ${v.message}`),
    ]),
    null,
    1,
  );
  // Each image's architecture was detected at upload (no --arch given): that is how cells are planned.
  const shaOf = (arch: string) => report.cells.find((c) => c.image.arch === arch)?.image.sha256 ?? '';
  const [g64, g32] = [shaOf('aarch64'), shaOf('aarch32')];
  assert.ok(g64 && g32 && g64 !== g32, dump);

  const on64 = verdicts(report, g64, 'qemu-aarch64-tcg');
  const suites = ['boot', 'console', 'gic', 'description', 'timer', 'hotplug', 'nvram'];
  assert.deepEqual([...new Set(Object.keys(on64).map((k) => k.split('/')[0]))], suites, dump);
  for (const [k, v] of Object.entries(on64)) assert.equal(v, 'PASS', `${k}\n${dump}`);

  // Debian's armmp-lpae kernel is built without PCI hotplug: the farm reports it, it does not hide it.
  const on32 = verdicts(report, g32, 'qemu-aarch32-tcg');
  for (const [k, v] of Object.entries(on32))
    assert.equal(v, k === 'hotplug/GUEST-HOTPLUG' ? 'FAIL' : 'PASS', `${k}\n${dump}`);
  assert.equal(on32['hotplug/PLAT-HOTPLUG'], 'PASS');
  const desc32 = report.cells.find(
    (c) => c.image.sha256 === g32 && c.target === 'qemu-aarch32-tcg' && c.suite === 'description',
  )!;
  assert.match(desc32.verdicts.find((v) => v.clause === 'HW-DESC')!.message, /acpi boot not tried: .*32-bit/);

  // The pairs that cannot meet are cells too: SKIP with the reason, never run.
  for (const [image, target] of [
    [g64, 'qemu-aarch32-tcg'],
    [g32, 'qemu-aarch64-tcg'],
  ]) {
    const cells = report.cells.filter((c) => c.image.sha256 === image && c.target === target);
    assert.equal(cells.length, suites.length);
    for (const c of cells) {
      assert.equal(c.attempts, 1);
      for (const v of c.verdicts) assert.equal(v.verdict, 'SKIP');
      assert.match(
        c.verdicts[0].message,
        /^not run: image \w+ is aarch\d\d but target qemu-aarch\d\d-tcg offers/,
      );
    }
  }
  assert.equal(code, 1, `GUEST-HOTPLUG is a MUST clause: exit 1\n${stderr}`);
});

test('broken VM implementations: no hotplug port, variables thrown away, Secure Boot against an unsigned loader', async () => {
  const [noPorts, volatile, secure] = await Promise.all([
    submit([guest.aarch64, '--targets', 'tcg-no-hotplug', '--suites', 'hotplug']),
    submit([guest.aarch64, '--targets', 'tcg-volatile-nvram', '--suites', 'nvram']),
    submit([guest.aarch64, '--targets', 'tcg-secure-boot', '--suites', 'boot']),
  ]);
  const of = (r: MatrixReport) => Object.fromEntries(r.cells[0].verdicts.map((v) => [v.clause, v.verdict]));

  assert.deepEqual(of(noPorts.report), { 'PLAT-HOTPLUG': 'FAIL', 'GUEST-HOTPLUG': 'SKIP' });
  assert.match(message(noPorts.report, 'PLAT-HOTPLUG'), /offers no hotplug-capable port/);

  assert.deepEqual(of(volatile.report), { 'FW-NVRAM': 'FAIL', 'FW-NVRAM-INSTANCE': 'PASS' });
  assert.match(message(volatile.report, 'FW-NVRAM'), /gone after the power cycle: the guest read not-found/);

  const sb = of(secure.report);
  assert.equal(sb['FW-UEFI'], 'PASS');
  assert.equal(sb['FW-DEFAULT-BOOT'], 'FAIL');
  assert.match(message(secure.report, 'FW-DEFAULT-BOOT'), /Access Denied/);
});

/** Command lines of the processes running QEMU on this farm's instance files. */
function farmQemus(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes('qemu-system-') && cmdline.includes(data)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('no QEMU process and no instance file is left behind', () => {
  assert.deepEqual(farmQemus(), []);
  const work = join(data, 'agent-work');
  assert.ok(existsSync(work), 'the agents kept their instances under the farm data');
  assert.deepEqual(readdirSync(work), []);
});
