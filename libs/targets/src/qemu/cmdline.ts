import type { StreamTarget } from '@vmfarm/host';
import type { ImageFormat } from '@vmfarm/protocol';
import type { MachineDescription } from './machine';

/** Where one launch's files are (host paths, resolved). */
export interface LaunchFiles {
  /** The firmware code (pflash unit 0, read-only): the profile's firmwareCode as the host resolved it. */
  code: string;
  /** The instance's copy of the variable store (pflash unit 1, writable). */
  vars: string;
  /** The image, opened read-only in the format the job states; never written. */
  image: string;
  imageFormat: ImageFormat;
  /** The qcow2 overlay the VM writes to, with the image as its backing node. */
  overlay: string;
  /** Where QEMU listens for QMP: a unix socket, or (on a host reached over SSH) a loopback TCP port. */
  qmp: StreamTarget;
  /** With a virtio console, PL011 output (firmware, kernel console) goes to this file. */
  serialLog: string;
}

/** Commas in a QEMU option value are escaped by doubling them. */
const opt = (path: string) => path.replace(/,/g, ',,');

/**
 * The disk as block nodes: the image in the format the job states, read-only, with no backing
 * chain of its own (`backing: null`: a backing file named in an uploaded qcow2 is never opened, and
 * nothing is probed from the bytes), under the instance's overlay, whose backing is that node.
 */
export function diskNodes(f: LaunchFiles): string[] {
  const image = {
    driver: f.imageFormat,
    'node-name': 'image',
    'read-only': true,
    file: { driver: 'file', filename: f.image, 'read-only': true },
    ...(f.imageFormat === 'qcow2' ? { backing: null } : {}),
  };
  const overlay = {
    driver: 'qcow2',
    'node-name': 'disk0',
    backing: 'image',
    file: { driver: 'file', filename: f.overlay },
  };
  return ['-blockdev', JSON.stringify(image), '-blockdev', JSON.stringify(overlay)];
}

/**
 * The QEMU arguments for a machine. `-nodefaults` and `-nic none` so that only what is listed exists
 * (no default NIC wanting an option ROM the host may lack, no monitor on the console); the console is
 * the process's stdio, which node reads and writes without losing a byte from the first one; QMP on a
 * unix socket.
 */
export function qemuArgs(m: MachineDescription, f: LaunchFiles): string[] {
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-nic',
    'none',
    '-machine',
    m.machine,
    '-accel',
    m.accel,
    '-cpu',
    m.cpu,
    '-m',
    String(m.memoryMiB),
    '-smp',
    String(m.smp),
    '-drive',
    `if=pflash,format=raw,unit=0,readonly=on,file=${opt(f.code)}`,
    '-drive',
    `if=pflash,format=raw,unit=1,file=${opt(f.vars)}`,
    ...diskNodes(f),
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=0',
    '-chardev',
    'stdio,id=console0,signal=off',
  ];
  if (m.console === 'pl011') args.push('-serial', 'chardev:console0');
  else
    args.push(
      '-chardev',
      `file,id=serial0,path=${opt(f.serialLog)}`,
      '-serial',
      'chardev:serial0',
      '-device',
      'virtio-serial-pci,id=virtio-serial0',
      '-device',
      'virtconsole,chardev=console0',
    );
  m.rootPorts.forEach((id, i) =>
    args.push('-device', `pcie-root-port,id=${id},bus=pcie.0,chassis=${i + 1},slot=${i + 1}`),
  );
  args.push(
    // Without the menu setting the firmware waits 5 s for a key.
    '-boot',
    'menu=on,splash-time=0',
    '-chardev',
    `socket,id=qmp0,${'path' in f.qmp ? `path=${opt(f.qmp.path)}` : `host=127.0.0.1,port=${f.qmp.port}`},server=on,wait=off`,
    '-mon',
    'chardev=qmp0,mode=control',
  );
  return args;
}

/** A command line to paste into a shell (for logs and error messages). */
export function shellLine(binary: string, args: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [binary, ...args].map(quote).join(' ');
}
