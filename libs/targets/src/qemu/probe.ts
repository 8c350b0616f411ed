import { probeCapabilities, which, type HostTransport } from '@vmfarm/host';
import { execFile } from 'node:child_process';
import { isHostPath } from '@vmfarm/protocol';
import { closeSync, constants, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveProbedFile, type FileLookup } from '../common/host-files';

/** What the host offers the qemu driver, as data (shown on the dashboard, fed to `accepts`). */
export interface HostProbe {
  /** `process.arch` of the agent: KVM runs guests of the host's own architecture only. */
  hostArch: string;
  /** Each program looked for: where it is and its `--version`, or null when absent. */
  binaries: Record<string, { path: string; version: string } | null>;
  /**
   * The firmware files this host offers, by name (what profiles give): the regular files of the
   * firmware directories, the first directory winning a name two of them hold.
   */
  firmware: Record<string, string>;
  /** Host paths an admin's profile names, looked at: present or not. */
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
/** Where Debian's qemu-efi-aarch64 and qemu-efi-arm put the AAVMF firmware and variable templates. */
export const DEFAULT_FIRMWARE_DIRS = ['/usr/share/AAVMF'];

function version(path: string): Promise<string> {
  return new Promise((resolve) =>
    execFile(path, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      const found = /version (\S+)/.exec(String(stdout));
      resolve(found ? found[1] : err ? `unknown (${err.message.split('\n')[0]})` : 'unknown');
    }),
  );
}

/** The firmware files of `dirs` by name (a missing directory offers nothing). */
export function firmwareIn(dirs: readonly string[]): Record<string, string> {
  const found: Record<string, string> = {};
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (!(name in found) && statSync(path, { throwIfNoEntry: false })?.isFile()) found[name] = path;
    }
  }
  return found;
}

/**
 * Probes the host: its QEMU programs, the firmware its firmware directories offer by name, KVM, and
 * the host paths of `files` that admins' profiles name (names in `files` are left to `firmware`).
 */
export async function probeHost(
  options: { files?: readonly string[]; firmwareDirs?: readonly string[]; kvmDevice?: string } = {},
): Promise<HostProbe> {
  const binaries: HostProbe['binaries'] = {};
  await Promise.all(
    PROBED_PROGRAMS.map(async (name) => {
      const path = which(name);
      binaries[name] = path ? { path, version: await version(path) } : null;
    }),
  );
  const files = Object.fromEntries((options.files ?? []).filter(isHostPath).map((f) => [f, existsSync(f)]));
  return {
    hostArch: process.arch,
    binaries,
    firmware: firmwareIn(options.firmwareDirs ?? DEFAULT_FIRMWARE_DIRS),
    files,
    kvm: probeKvm(options.kvmDevice ?? '/dev/kvm'),
  };
}

/** `uname -m` as `process.arch` says it. */
const NODE_ARCH: Record<string, string> = { aarch64: 'arm64', x86_64: 'x64', armv7l: 'arm' };

/**
 * Probes a host through its transport (a remote one: the local probe above looks at this machine
 * directly): the same facts, from one shell run there.
 */
export async function probeHostOver(
  transport: HostTransport,
  options: { files?: readonly string[]; firmwareDirs?: readonly string[]; kvmDevice?: string } = {},
): Promise<HostProbe> {
  const caps = await probeCapabilities(transport, {
    programs: PROBED_PROGRAMS,
    firmwareDirs: options.firmwareDirs ?? DEFAULT_FIRMWARE_DIRS,
    files: (options.files ?? []).filter(isHostPath),
    kvmDevice: options.kvmDevice,
  });
  return {
    hostArch: NODE_ARCH[caps.arch] ?? caps.arch,
    binaries: caps.binaries,
    firmware: caps.firmware,
    files: caps.files,
    kvm: caps.kvm,
  };
}

/**
 * The probe with the host paths of `files` checked now as well: an admin's profile may name a path
 * the start-up probe did not look at (names are resolved against `firmware`, never looked up here).
 */
export function withFiles(probe: HostProbe, files: readonly string[]): HostProbe {
  const missing = files.filter((f) => isHostPath(f) && !(f in probe.files));
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

/** Where a profile's host file is on this host (see resolveProbedFile). */
export function resolveHostFile(probe: HostProbe, value: string): FileLookup {
  return resolveProbedFile(probe, value, 'it has no firmware files');
}
