import type { QemuProfile } from './profile';

export type DiskFormat = 'raw' | 'qcow2';

/** Where one launch's files are. */
export interface LaunchFiles {
  /** The firmware code (pflash unit 0, read-only): the profile's firmwareCode as the host resolved it. */
  code: string;
  /** The instance's copy of the variable store (pflash unit 1, writable). */
  vars: string;
  /** The disk QEMU writes to: an overlay over the image, never the image itself. */
  disk: string;
  diskFormat: DiskFormat;
  qmpSocket: string;
  /** With a virtio console, PL011 output (firmware, kernel console) goes to this file. */
  serialLog: string;
}

/** Names of the empty root ports hot-added devices go to. */
export const rootPortId = (n: number) => `rp${n}`;

/** Commas in a QEMU option value are escaped by doubling them. */
const opt = (path: string) => path.replace(/,/g, ',,');

/**
 * The QEMU arguments for a profile. `-nodefaults` so that only what is listed exists (no default
 * NIC wanting an option ROM, no monitor on the console); the console is the process's stdio, which
 * node reads and writes without losing a byte from the first one; QMP on a unix socket.
 */
export function qemuArgs(p: QemuProfile, f: LaunchFiles): string[] {
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-machine',
    `virt,gic-version=${p.gic},acpi=${p.acpi}`,
    '-accel',
    p.accel,
    '-cpu',
    p.cpu,
    '-m',
    String(p.memoryMiB),
    '-smp',
    String(p.smp),
    '-drive',
    `if=pflash,format=raw,unit=0,readonly=on,file=${opt(f.code)}`,
    '-drive',
    `if=pflash,format=raw,unit=1,file=${opt(f.vars)}`,
    '-drive',
    `if=none,id=disk0,format=${f.diskFormat},file=${opt(f.disk)}`,
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=0',
    '-chardev',
    'stdio,id=console0,signal=off',
  ];
  if (p.console === 'pl011') args.push('-serial', 'chardev:console0');
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
  for (let n = 1; n <= p.hotplugPorts; n++)
    args.push('-device', `pcie-root-port,id=${rootPortId(n)},bus=pcie.0,chassis=${n},slot=${n}`);
  args.push(
    // Without the menu setting the firmware waits 5 s for a key.
    '-boot',
    'menu=on,splash-time=0',
    '-chardev',
    `socket,id=qmp0,path=${opt(f.qmpSocket)},server=on,wait=off`,
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
