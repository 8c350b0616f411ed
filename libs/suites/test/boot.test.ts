import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { verdictRecordSchema } from '@vmfarm/protocol';
import { GOOD } from '@vmfarm/session/testing';
import {
  bootSuite,
  checkRegistry,
  judgeBoot,
  readyPatterns,
  scanTranscript,
  type BootObservation,
} from '../src';
import type { BootedVm, VmSession } from '@vmfarm/session';

/** Consoles recorded from QEMU 7.2 + Debian's AAVMF (qemu-aarch64-tcg) on this farm's images. */
const recorded = (name: string) => readFileSync(join(__dirname, '../../test/fixtures/boot', name), 'utf8');
const NO_REMOVABLE = recorded('no-removable-path.log');
const SECURE_BOOT = recorded('secure-boot-unsigned.log');

const pristine = { pristine: true, template: '/usr/share/AAVMF/AAVMF_VARS.fd', detail: 'fresh copy' };
const observe = (transcript: string, end: BootObservation['end'] = { kind: 'matched' }): BootObservation => ({
  transcript,
  end,
  stages: { vmStarted: 150, firstOutput: 300, firmware: 300, loader: 1200, ready: 5900 },
  variableStore: pristine,
  readyPatterns: readyPatterns(),
});
const byClause = (o: BootObservation) => {
  const verdicts = judgeBoot(o);
  for (const v of verdicts) verdictRecordSchema.parse(v);
  return Object.fromEntries(verdicts.map((v) => [v.clause, v]));
};

test('the reference guest: PASS for all three clauses, banner, loader and ready line as evidence', () => {
  const v = byClause(observe(GOOD));
  assert.equal(v['FW-UEFI'].verdict, 'PASS');
  assert.match(v['FW-UEFI'].message, /UEFI firmware \(version/);
  assert.equal(v['FW-DEFAULT-BOOT'].verdict, 'PASS');
  assert.match(v['FW-DEFAULT-BOOT'].message, /BdsDxe: starting Boot0001 "UEFI Misc Device"/);
  assert.equal(v['IMG-NO-VARS'].verdict, 'PASS');
  assert.match(v['IMG-NO-VARS'].message, /pristine variable store .*"VMFARM-READY" in 5\.9 s/);
  assert.deepEqual(v['IMG-NO-VARS'].evidence.stagesMs, observe(GOOD).stages);
  assert.ok((v['FW-UEFI'].evidence.matchedLines as string[]).includes('VMFARM-READY'));
});

test('no removable path: FAIL with the firmware words, the internal shell ends the wait', () => {
  const scan = scanTranscript(NO_REMOVABLE, readyPatterns());
  assert.match(scan.gaveUp!, /starting Boot0002 "EFI Internal Shell" from Fv\(/);
  assert.equal(scan.loader, undefined, 'the firmware shell is not the image loader');
  const v = byClause(observe(NO_REMOVABLE));
  assert.equal(v['FW-UEFI'].verdict, 'PASS');
  assert.equal(v['FW-DEFAULT-BOOT'].verdict, 'FAIL');
  assert.match(
    v['FW-DEFAULT-BOOT'].message,
    /BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot\(0x0\)\/Pci\(0x1,0x0\): Not Found/,
  );
  assert.equal(v['IMG-NO-VARS'].verdict, 'FAIL');
  assert.match(v['IMG-NO-VARS'].message, /firmware says: .*Not Found/);
});

test('Secure Boot with an unsigned loader: FAIL citing Access Denied and no bootable option', () => {
  const v = byClause(observe(SECURE_BOOT));
  assert.equal(v['FW-DEFAULT-BOOT'].verdict, 'FAIL');
  assert.match(v['FW-DEFAULT-BOOT'].message, /Access Denied/);
  assert.match(v['FW-DEFAULT-BOOT'].message, /No bootable option or device was found/);
  assert.equal(v['IMG-NO-VARS'].verdict, 'FAIL');
});

test('a loader that runs but never gets ready: the firmware passes, the image fails on the timeout', () => {
  const cut = GOOD.slice(0, GOOD.indexOf('VMFARM-REPORT-BEGIN'));
  const v = byClause(observe(cut, { kind: 'timeout', timeoutMs: 180_000 }));
  assert.equal(v['FW-DEFAULT-BOOT'].verdict, 'PASS');
  assert.equal(v['IMG-NO-VARS'].verdict, 'FAIL');
  assert.match(v['IMG-NO-VARS'].message, /not ready within 180\.0 s/);
});

test('a submitter pattern and the login prompt are readiness patterns', () => {
  const distro =
    GOOD.slice(0, GOOD.indexOf('VMFARM-REPORT-BEGIN')) +
    'Debian GNU/Linux 12 debian ttyAMA0\n\ndebian login: ';
  assert.equal(scanTranscript(distro, readyPatterns()).ready?.line, 'debian login:');
  const custom = scanTranscript(GOOD, readyPatterns('^uptime_s=\\d'));
  assert.equal(custom.ready?.line, 'uptime_s=3.51');
});

test('a silent VM, an exited QEMU, an abort and a used store are ERRORs, never the image fault', () => {
  for (const end of [
    { kind: 'timeout', timeoutMs: 180_000 },
    { kind: 'exited', message: 'QEMU was killed by SIGKILL while awaiting ready', byGuest: false },
  ] as const) {
    const v = judgeBoot(observe('', end));
    assert.deepEqual(
      v.map((x) => x.verdict),
      ['ERROR', 'ERROR', 'ERROR'],
    );
  }
  assert.ok(judgeBoot(observe(GOOD, { kind: 'aborted', message: 'x' })).every((x) => x.verdict === 'ERROR'));
  const used = byClause({
    ...observe(GOOD),
    variableStore: { ...pristine, pristine: false, detail: 'reused' },
  });
  assert.equal(used['IMG-NO-VARS'].verdict, 'ERROR');
});

test('the suite boots through ctx.vm: ERROR when QEMU cannot start or no VM is given', async () => {
  const ctx = {
    imagePath: __filename,
    arch: 'aarch64' as const,
    target: { id: 't', kind: 'qemu' } as never,
    signal: new AbortController().signal,
  };
  const none = await bootSuite.run(ctx);
  assert.ok(none.verdicts.every((v) => v.verdict === 'ERROR' && /gives this suite no VM/.test(v.message)));
  const broken = await bootSuite.run({
    ...ctx,
    vm: { boot: () => Promise.reject(new Error('qemu-system-aarch64 exited with status 1')) },
  });
  assert.ok(
    broken.verdicts.every((v) => v.verdict === 'ERROR' && /could not be started.*status 1/.test(v.message)),
  );
});

test('the suite on a fake session replaying a recorded console', async () => {
  let closed = 0;
  const session = {
    console: {
      transcript: () => NO_REMOVABLE,
      expect: async (p: RegExp) => {
        const m = p.exec(NO_REMOVABLE)!;
        return { text: m[0], groups: [], named: {}, index: m.index, end: m.index + m[0].length };
      },
      send: () => {},
    },
    close: async () => void closed++,
  } as unknown as VmSession;
  const booted: BootedVm = { session, startedAt: Date.now(), variableStore: pristine };
  const out = await bootSuite.run({
    imagePath: __filename,
    arch: 'aarch64',
    target: { id: 't', kind: 'qemu' } as never,
    signal: new AbortController().signal,
    vm: { boot: async () => booted },
  });
  assert.deepEqual(
    out.verdicts.map((v) => `${v.clause}:${v.verdict}`),
    ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:FAIL', 'IMG-NO-VARS:FAIL'],
  );
  assert.equal(closed, 0, 'the agent closes the session, not the suite');
});

test('the registry takes the boot suite: a live suite may judge an image clause', () => {
  checkRegistry();
  assert.deepEqual(bootSuite.targetKinds, ['qemu']);
});
