import type { HostTransport } from './types';

/** What a hypervisor host offers, looked at through its transport (shown by the agent and the docs). */
export interface HostCapabilities {
  url: string;
  /** `uname -m`: aarch64, x86_64, … */
  arch: string;
  kernel: string;
  /** Each program asked for: its path and version, or null when absent. */
  binaries: Record<string, { path: string; version: string } | null>;
  /** Xen's toolstack, when `xl` is there: `xl info`'s xen_version, or why it would not say. */
  xen: { xl: string; version: string | null; error?: string } | null;
  kvm: {
    device: boolean;
    usable: boolean;
    /** KVM serves arm64 guests: usable, on an aarch64 host. */
    arm64: boolean;
    reason?: string;
  };
  /** Regular files of the firmware directories by name, the first directory winning a name. */
  firmware: Record<string, string>;
  /** Host paths asked about: present or not. */
  files: Record<string, boolean>;
}

export interface ProbeOptions {
  programs?: readonly string[];
  firmwareDirs?: readonly string[];
  files?: readonly string[];
  kvmDevice?: string;
}

/*
 * One POSIX sh run on the host prints what it finds, one `key<TAB>value` line each (our own format,
 * not another program's): $1 = KVM device, then programs, `--`, firmware dirs, `--`, files.
 */
const SCRIPT = `
kvm=$1; shift
printf 'arch\\t%s\\n' "$(uname -m)"
printf 'kernel\\t%s\\n' "$(uname -r)"
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  p=$(command -v "$1" 2>/dev/null) && printf 'bin\\t%s\\t%s\\t%s\\n' "$1" "$p" "$("$p" --version 2>/dev/null | head -n1)"
  shift
done
shift
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  for f in "$1"/*; do [ -f "$f" ] && printf 'fw\\t%s\\n' "$f"; done
  shift
done
shift
for f in "$@"; do [ -e "$f" ] && printf 'file\\t%s\\n' "$f"; done
if p=$(command -v xl 2>/dev/null); then
  printf 'xl\\t%s\\n' "$p"
  if out=$(xl info 2>&1); then
    printf '%s\\n' "$out" | sed -n 's/^xen_version *: */xenversion\\t/p'
  else
    printf 'xlerror\\t%s\\n' "$(printf '%s' "$out" | tail -n1)"
  fi
fi
if [ -e "$kvm" ]; then
  printf 'kvm\\tdevice\\n'
  if [ -r "$kvm" ] && [ -w "$kvm" ]; then printf 'kvm\\tusable\\n'; fi
fi
`;

/** Probes a host through `transport`: one shell run, whatever the transport. */
export async function probeCapabilities(
  transport: HostTransport,
  options: ProbeOptions = {},
): Promise<HostCapabilities> {
  const kvmDevice = options.kvmDevice ?? '/dev/kvm';
  const programs = options.programs ?? ['qemu-system-aarch64', 'qemu-system-arm', 'qemu-img'];
  const files = options.files ?? [];
  const r = await transport.exec('sh', [
    '-c',
    SCRIPT,
    'vmfarm-probe',
    kvmDevice,
    ...programs,
    '--',
    ...(options.firmwareDirs ?? ['/usr/share/AAVMF']),
    '--',
    ...files,
  ]);
  const caps: HostCapabilities = {
    url: transport.url,
    arch: '',
    kernel: '',
    binaries: Object.fromEntries(programs.map((p) => [p, null])),
    xen: null,
    kvm: { device: false, usable: false, arm64: false },
    firmware: {},
    files: Object.fromEntries(files.map((f) => [f, false])),
  };
  for (const line of r.stdout.split('\n')) {
    const [key, ...v] = line.split('\t');
    if (key === 'arch') caps.arch = v[0];
    else if (key === 'kernel') caps.kernel = v[0];
    else if (key === 'bin')
      caps.binaries[v[0]] = { path: v[1], version: /version (\S+)/.exec(v[2])?.[1] ?? (v[2] || 'unknown') };
    else if (key === 'fw') {
      const name = v[0].slice(v[0].lastIndexOf('/') + 1);
      caps.firmware[name] ??= v[0];
    } else if (key === 'file') caps.files[v[0]] = true;
    else if (key === 'xl') caps.xen = { xl: v[0], version: null };
    else if (key === 'xenversion' && caps.xen) caps.xen.version = v[0];
    else if (key === 'xlerror' && caps.xen) caps.xen.error = v[0];
    else if (key === 'kvm' && v[0] === 'device') caps.kvm.device = true;
    else if (key === 'kvm' && v[0] === 'usable') caps.kvm.usable = true;
  }
  if (!caps.arch)
    throw new Error(`probe of ${transport.url} printed nothing (status ${r.code}): ${r.stderr.trim()}`);
  caps.kvm.arm64 = caps.kvm.usable && caps.arch === 'aarch64';
  if (!caps.kvm.device) caps.kvm.reason = `${kvmDevice} is absent`;
  else if (!caps.kvm.usable) caps.kvm.reason = `${kvmDevice} cannot be opened read-write`;
  else if (!caps.kvm.arm64)
    caps.kvm.reason = `${kvmDevice} serves ${caps.arch} guests only (the host is not aarch64)`;
  return caps;
}
