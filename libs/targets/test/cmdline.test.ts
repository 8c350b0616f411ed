import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeMachine, platformFacts, qemuArgs, shellLine, type LaunchFiles } from '../src';
import { tcgProfile } from './profiles';

const profile = tcgProfile({ hotplugPorts: 2 });
const files: LaunchFiles = {
  code: '/fw/CODE.fd',
  vars: '/inst/vars.fd',
  image: '/images/disk.raw',
  imageFormat: 'raw',
  overlay: '/inst/.run/disk.qcow2',
  qmp: { path: '/inst/.run/qmp.sock' },
  serialLog: '/inst/serial.log',
};

test('the command line of a TCG profile with a PL011 console', () => {
  assert.equal(
    shellLine('qemu-system-aarch64', qemuArgs(describeMachine(profile), files)),
    'qemu-system-aarch64 -nodefaults -no-user-config -display none -nic none -machine virt,gic-version=3,acpi=off ' +
      '-accel tcg -cpu cortex-a57 -m 1024 -smp 1 ' +
      '-drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd ' +
      '-drive if=pflash,format=raw,unit=1,file=/inst/vars.fd ' +
      `-blockdev '{"driver":"raw","node-name":"image","read-only":true,"file":{"driver":"file","filename":"/images/disk.raw","read-only":true}}' ` +
      `-blockdev '{"driver":"qcow2","node-name":"disk0","backing":"image","file":{"driver":"file","filename":"/inst/.run/disk.qcow2"}}' ` +
      '-device virtio-blk-pci,drive=disk0,bootindex=0 ' +
      '-chardev stdio,id=console0,signal=off -serial chardev:console0 ' +
      '-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 ' +
      '-device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2 ' +
      '-boot menu=on,splash-time=0 ' +
      '-chardev socket,id=qmp0,path=/inst/.run/qmp.sock,server=on,wait=off -mon chardev=qmp0,mode=control',
  );
});

test('on a remote host: KVM with the host CPU, QMP on a loopback TCP port there', () => {
  const args = qemuArgs(describeMachine({ ...profile, accel: 'kvm', cpu: 'host' }), {
    ...files,
    qmp: { port: 24711 },
  });
  const line = shellLine('qemu-system-aarch64', args);
  assert.match(line, / -accel kvm -cpu host /);
  assert.match(
    line,
    / -chardev socket,id=qmp0,host=127\.0\.0\.1,port=24711,server=on,wait=off -mon chardev=qmp0,mode=control$/,
  );
});

test('no -no-reboot: a guest reboot must reset, not end QEMU', () => {
  assert.ok(!qemuArgs(describeMachine(profile), files).includes('-no-reboot'));
});

test('a virtio console takes stdio; PL011 output goes to the serial log', () => {
  const args = qemuArgs(describeMachine({ ...profile, console: 'virtio-console' }), files).join(' ');
  assert.match(args, /-chardev file,id=serial0,path=\/inst\/serial\.log -serial chardev:serial0/);
  assert.match(args, /-device virtio-serial-pci,id=virtio-serial0 -device virtconsole,chardev=console0/);
  assert.doesNotMatch(args, /-serial chardev:console0/);
});

test('machine options, KVM, no root ports, and commas in paths', () => {
  const args = qemuArgs(
    describeMachine({
      ...profile,
      gic: 2,
      acpi: 'on',
      accel: 'kvm',
      cpu: 'host',
      smp: 4,
      memoryMiB: 2048,
      hotplugPorts: 0,
    }),
    { ...files, vars: '/a,b/vars.fd' },
  ).join(' ');
  assert.match(args, /-machine virt,gic-version=2,acpi=on -accel kvm -cpu host -m 2048 -smp 4 /);
  assert.match(args, /unit=1,file=\/a,,b\/vars\.fd /);
  assert.doesNotMatch(args, /pcie-root-port/);
});

test('a qcow2 image is opened as qcow2 with no backing chain of its own, under the overlay', () => {
  const args = qemuArgs(describeMachine(profile), {
    ...files,
    image: '/images/up,load.qcow2',
    imageFormat: 'qcow2',
  });
  const nodes = args.flatMap((a, i) =>
    args[i - 1] === '-blockdev' ? [JSON.parse(a) as Record<string, unknown>] : [],
  );
  assert.deepEqual(nodes, [
    {
      driver: 'qcow2',
      'node-name': 'image',
      'read-only': true,
      file: { driver: 'file', filename: '/images/up,load.qcow2', 'read-only': true },
      backing: null,
    },
    {
      driver: 'qcow2',
      'node-name': 'disk0',
      backing: 'image',
      file: { driver: 'file', filename: '/inst/.run/disk.qcow2' },
    },
  ]);
  assert.ok(
    !args.some((a) => /format=|if=none|snapshot/.test(a) && !a.startsWith('if=pflash')),
    'nothing probed',
  );
});

test('the machine description feeds both the command line and platform()', () => {
  const m = describeMachine({ ...profile, acpi: 'on', gic: 2, hotplugPorts: 3 });
  const args = qemuArgs(m, files);
  assert.equal(args[args.indexOf('-machine') + 1], m.machine);
  assert.deepEqual(
    args.filter((a) => a.startsWith('pcie-root-port')).map((a) => /id=(\w+)/.exec(a)![1]),
    m.rootPorts,
  );
  const facts = platformFacts(m, [
    { version: 2, emulated: true, kernel: false },
    { version: 3, emulated: true, kernel: false },
  ]);
  assert.deepEqual(
    [facts.gic, facts.description, facts.hotplugPorts, facts.evidence.machine],
    [{ version: 2, available: [2, 3] }, { fdt: false, acpi: true }, 3, 'virt,gic-version=2,acpi=on'],
  );
  assert.deepEqual(
    platformFacts({ ...m, accel: 'kvm' }, [{ version: 3, emulated: true, kernel: false }]).gic.available,
    [],
  );
});

test('shellLine quotes what a shell would split', () => {
  assert.equal(shellLine('q', ['-a', "it's here", 'x y']), `q -a 'it'\\''s here' 'x y'`);
});
