import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BUNDLED_PROFILES_DIR,
  bootsFirmware,
  diskSpec,
  loadXenProfiles,
  vifArgs,
  xenMac,
  xlConfig,
  type XlDomain,
} from '../src';

const domain: XlDomain = {
  name: 'vmfarm-0123456789',
  kernel: '/usr/share/xen-efi/XEN_EFI.fd',
  memoryMiB: 512,
  vcpus: 1,
  disks: [{ vdev: 'xvda', target: '/tmp/vmfarm-xen-abc/disk.img' }],
  vifs: [{ bridge: 'xenbr0', mac: '00:16:3e:01:02:03' }],
};

test('the xl config of a UEFI domain: XEN_EFI.fd as its kernel, the disk as xvda, a vif on the bridge', () => {
  assert.equal(
    xlConfig(domain),
    [
      'name = "vmfarm-0123456789"',
      'kernel = "/usr/share/xen-efi/XEN_EFI.fd"',
      'memory = 512',
      'vcpus = 1',
      'disk = [ "format=raw,vdev=xvda,access=rw,target=/tmp/vmfarm-xen-abc/disk.img" ]',
      'vif = [ "bridge=xenbr0,mac=00:16:3e:01:02:03" ]',
      'on_poweroff = "destroy"',
      'on_reboot = "restart"',
      'on_crash = "preserve"',
      '',
    ].join('\n'),
  );
});

test('a direct boot adds ramdisk and extra', () => {
  const text = xlConfig({ ...domain, kernel: '/k', ramdisk: '/r', cmdline: 'console=hvc0 quiet' });
  assert.match(text, /^kernel = "\/k"\nramdisk = "\/r"\nextra = "console=hvc0 quiet"\n/m);
});

test('values xl would read differently are refused, not written', () => {
  assert.throws(() => xlConfig({ ...domain, cmdline: 'a"b' }), /cmdline/);
  assert.throws(() => xlConfig({ ...domain, name: 'x\ny' }), /name/);
  assert.throws(() => diskSpec({ vdev: 'xvdb', target: '/tmp/a,b.img' }), /no commas/);
});

test('xl network-attach takes the vif keys as separate arguments', () => {
  assert.deepEqual(vifArgs({ bridge: 'xenbr0', mac: '00:16:3e:00:00:07' }), [
    'bridge=xenbr0',
    'mac=00:16:3e:00:00:07',
  ]);
  assert.equal(
    diskSpec({ vdev: 'xvdb', target: '/t/s.img', readOnly: true }),
    'format=raw,vdev=xvdb,access=ro,target=/t/s.img',
  );
});

test('MACs are in Xen OUI 00:16:3e, locally unique part below 0x80', () => {
  assert.equal(xenMac(new Uint8Array([0xff, 0x01, 0x80])), '00:16:3e:7f:01:00');
});

test('the bundled xen profiles resolve; the direct one inherits and boots no firmware', () => {
  const { profiles, errors } = loadXenProfiles(BUNDLED_PROFILES_DIR);
  assert.deepEqual(errors, []);
  const uefi = profiles.get('xen-aarch64')!;
  const direct = profiles.get('xen-aarch64-direct')!;
  assert.equal(uefi.kernel, 'XEN_EFI.fd');
  assert.equal(bootsFirmware(uefi), true);
  assert.equal(direct.bridge, 'xenbr0');
  assert.equal(direct.memoryMiB, uefi.memoryMiB);
  assert.equal(bootsFirmware(direct), false);
});
