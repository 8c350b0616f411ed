import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qemuArgs, shellLine, type LaunchFiles } from '../src';
import { tcgProfile } from './profiles';

const profile = tcgProfile({ hotplugPorts: 2 });
const files: LaunchFiles = {
  code: '/fw/CODE.fd',
  vars: '/inst/vars.fd',
  disk: '/inst/.run/disk.qcow2',
  diskFormat: 'qcow2',
  qmpSocket: '/inst/.run/qmp.sock',
  serialLog: '/inst/serial.log',
};

test('the command line of a TCG profile with a PL011 console', () => {
  assert.equal(
    shellLine('qemu-system-aarch64', qemuArgs(profile, files)),
    'qemu-system-aarch64 -nodefaults -no-user-config -display none -machine virt,gic-version=3,acpi=off ' +
      '-accel tcg -cpu cortex-a57 -m 1024 -smp 1 ' +
      '-drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd ' +
      '-drive if=pflash,format=raw,unit=1,file=/inst/vars.fd ' +
      '-drive if=none,id=disk0,format=qcow2,file=/inst/.run/disk.qcow2 -device virtio-blk-pci,drive=disk0,bootindex=0 ' +
      '-chardev stdio,id=console0,signal=off -serial chardev:console0 ' +
      '-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 ' +
      '-device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2 ' +
      '-boot menu=on,splash-time=0 ' +
      '-chardev socket,id=qmp0,path=/inst/.run/qmp.sock,server=on,wait=off -mon chardev=qmp0,mode=control',
  );
});

test('no -no-reboot: a guest reboot must reset, not end QEMU', () => {
  assert.ok(!qemuArgs(profile, files).includes('-no-reboot'));
});

test('a virtio console takes stdio; PL011 output goes to the serial log', () => {
  const args = qemuArgs({ ...profile, console: 'virtio-console' }, files).join(' ');
  assert.match(args, /-chardev file,id=serial0,path=\/inst\/serial\.log -serial chardev:serial0/);
  assert.match(args, /-device virtio-serial-pci,id=virtio-serial0 -device virtconsole,chardev=console0/);
  assert.doesNotMatch(args, /-serial chardev:console0/);
});

test('machine options, KVM, no root ports, and commas in paths', () => {
  const args = qemuArgs(
    { ...profile, gic: 2, acpi: 'on', accel: 'kvm', cpu: 'host', smp: 4, memoryMiB: 2048, hotplugPorts: 0 },
    { ...files, vars: '/a,b/vars.fd', diskFormat: 'raw', disk: '/img.raw' },
  ).join(' ');
  assert.match(args, /-machine virt,gic-version=2,acpi=on -accel kvm -cpu host -m 2048 -smp 4 /);
  assert.match(args, /unit=1,file=\/a,,b\/vars\.fd /);
  assert.match(args, /format=raw,file=\/img\.raw /);
  assert.doesNotMatch(args, /pcie-root-port/);
});

test('shellLine quotes what a shell would split', () => {
  assert.equal(shellLine('q', ['-a', "it's here", 'x y']), `q -a 'it'\\''s here' 'x y'`);
});
