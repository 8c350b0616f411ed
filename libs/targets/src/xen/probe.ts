import { probeCapabilities, type HostTransport } from '@vmfarm/host';
import { isHostPath } from '@vmfarm/protocol';
import { resolveProbedFile, type FileLookup } from '../common/host-files';
import { parseXlInfo } from './parse';

/**
 * Where a dom0 keeps domU firmware and kernels: Debian's XENFIRMWAREDIR, and the directory this
 * project's host builder and docs/xen.md install XEN_EFI.fd to.
 */
export const XEN_FIRMWARE_DIRS = ['/usr/lib/xen-4.17/boot', '/usr/share/xen-efi'];

/** What a Xen dom0 offers the xen driver, looked at through its transport. */
export interface XenProbe {
  url: string;
  arch: string;
  /** `xl` and its `xl info` (null when xl is absent or cannot reach Xen: then `error` says why). */
  xl: { path: string; info: Record<string, string> | null; error?: string } | null;
  xenVersion: string | null;
  freeMemoryMiB: number | null;
  /** xenstore-read is there (hotplug evidence is read with it). */
  xenstore: boolean;
  /** xenconsole, the console client xl runs (Debian keeps it in /usr/lib/xen-VERSION/bin). */
  xenconsole: string | null;
  /** The dom0's bridges (vifs join one). */
  bridges: string[];
  /** The GIC the dom0 sees (`native` domUs get the same). */
  gic: 2 | 3 | null;
  /** Firmware and kernels the host offers, by name. */
  firmware: Record<string, string>;
  files: Record<string, boolean>;
}

const EXTRA = `
c=$(command -v xenconsole || ls /usr/lib/xen-*/bin/xenconsole 2>/dev/null | tail -n1) && printf 'xenconsole\t%s\n' "$c"
for d in /sys/class/net/*/bridge; do [ -d "$d" ] && { d=\${d%/bridge}; printf 'bridge\\t%s\\n' "\${d##*/}"; }; done
if grep -q GICv3 /proc/interrupts; then printf 'gic\\t3\\n'; elif grep -q 'GIC-[0-9]' /proc/interrupts; then printf 'gic\\t2\\n'; fi
`;

/** Probes a dom0: xl and `xl info` (version, free memory), xenstore tools, bridges, GIC, firmware. */
export async function probeXenHost(
  transport: HostTransport,
  options: { files?: readonly string[]; firmwareDirs?: readonly string[] } = {},
): Promise<XenProbe> {
  const files = (options.files ?? []).filter(isHostPath);
  const caps = await probeCapabilities(transport, {
    programs: ['xl', 'xenstore-read'],
    firmwareDirs: options.firmwareDirs ?? XEN_FIRMWARE_DIRS,
    files,
  });
  let xl: XenProbe['xl'] = null;
  if (caps.binaries.xl) {
    const r = await transport.exec('xl', ['info'], { timeoutMs: 30_000 });
    xl =
      r.code === 0
        ? { path: caps.binaries.xl.path, info: parseXlInfo(r.stdout) }
        : {
            path: caps.binaries.xl.path,
            info: null,
            error: (r.stderr.trim() || r.stdout.trim()).split('\n').pop(),
          };
  }
  const extra = await transport.exec('sh', ['-c', EXTRA], { timeoutMs: 30_000 });
  const bridges: string[] = [];
  let gic: XenProbe['gic'] = null;
  let xenconsole: string | null = null;
  for (const line of extra.stdout.split('\n')) {
    const [k, v] = line.split('\t');
    if (k === 'bridge') bridges.push(v);
    else if (k === 'xenconsole') xenconsole = v;
    else if (k === 'gic') gic = v === '3' ? 3 : 2;
  }
  const free = xl?.info ? Number(xl.info.free_memory) : NaN;
  return {
    url: caps.url,
    arch: caps.arch,
    xl,
    xenVersion: xl?.info?.xen_version ?? null,
    freeMemoryMiB: Number.isFinite(free) ? free : null,
    xenstore: !!caps.binaries['xenstore-read'],
    xenconsole,
    bridges,
    gic,
    firmware: caps.firmware,
    files: caps.files,
  };
}

/** Where a profile's host file is: a name from what the probe offers, an admin's path once probed present. */
export function resolveXenFile(probe: XenProbe, value: string): FileLookup {
  return resolveProbedFile(probe, value, `nothing in ${XEN_FIRMWARE_DIRS.join(', ')}`);
}
