import { which } from '@vmfarm/host';
import { execFile } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';

/** What the host offers the qemu driver, as data (shown on the dashboard, fed to `accepts`). */
export interface HostProbe {
  /** `process.arch` of the agent: KVM runs guests of the host's own architecture only. */
  hostArch: string;
  /** Each program looked for: where it is and its `--version`, or null when absent. */
  binaries: Record<string, { path: string; version: string } | null>;
  /** Each firmware file looked for: present or not. */
  files: Record<string, boolean>;
  kvm: {
    device: boolean;
    /** /dev/kvm opens read-write for this user. */
    usable: boolean;
    /** KVM can run an arm64 guest here (usable, on an arm64 host). */
    arm64: boolean;
    /** Why KVM cannot serve arm64 guests, when it cannot. */
    reason?: string;
  };
}

export const PROBED_PROGRAMS = ['qemu-system-aarch64', 'qemu-system-arm', 'qemu-img'] as const;
export const DEFAULT_FIRMWARE_FILES = [
  '/usr/share/AAVMF/AAVMF_CODE.fd',
  '/usr/share/AAVMF/AAVMF_VARS.fd',
  '/usr/share/AAVMF/AAVMF_VARS.ms.fd',
  '/usr/share/AAVMF/AAVMF32_CODE.fd',
  '/usr/share/AAVMF/AAVMF32_VARS.fd',
];

function version(path: string): Promise<string> {
  return new Promise((resolve) =>
    execFile(path, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      const found = /version (\S+)/.exec(String(stdout));
      resolve(found ? found[1] : err ? `unknown (${err.message.split('\n')[0]})` : 'unknown');
    }),
  );
}

/** Probes the host: pass the firmware paths of the profiles you mean to serve (defaults: Debian's AAVMF). */
export async function probeHost(
  options: { files?: readonly string[]; kvmDevice?: string } = {},
): Promise<HostProbe> {
  const binaries: HostProbe['binaries'] = {};
  await Promise.all(
    PROBED_PROGRAMS.map(async (name) => {
      const path = which(name);
      binaries[name] = path ? { path, version: await version(path) } : null;
    }),
  );
  const files = Object.fromEntries((options.files ?? DEFAULT_FIRMWARE_FILES).map((f) => [f, existsSync(f)]));
  return { hostArch: process.arch, binaries, files, kvm: probeKvm(options.kvmDevice ?? '/dev/kvm') };
}

/**
 * The probe with `files` checked now as well: a user profile may name firmware files the start-up
 * probe (the bundled profiles' files) did not look at.
 */
export function withFiles(probe: HostProbe, files: readonly string[]): HostProbe {
  const missing = files.filter((f) => !(f in probe.files));
  if (!missing.length) return probe;
  return {
    ...probe,
    files: { ...probe.files, ...Object.fromEntries(missing.map((f) => [f, existsSync(f)])) },
  };
}

function probeKvm(device: string): HostProbe['kvm'] {
  if (!existsSync(device))
    return { device: false, usable: false, arm64: false, reason: `${device} is absent` };
  try {
    closeSync(openSync(device, constants.O_RDWR));
  } catch (err) {
    return {
      device: true,
      usable: false,
      arm64: false,
      reason: `${device} cannot be opened read-write (${(err as NodeJS.ErrnoException).code})`,
    };
  }
  if (process.arch !== 'arm64')
    return {
      device: true,
      usable: true,
      arm64: false,
      reason: `${device} serves ${process.arch} guests only (the host is ${process.arch}, not arm64)`,
    };
  return { device: true, usable: true, arm64: true };
}
