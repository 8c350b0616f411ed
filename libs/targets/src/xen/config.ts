/** One disk of a domain: a raw file on the host, seen by the guest as `vdev` (xvda, xvdb, …). */
export interface XlDisk {
  vdev: string;
  target: string;
  readOnly?: boolean;
}

/** One network interface: joins `bridge` in dom0 with `mac`. */
export interface XlVif {
  bridge: string;
  mac: string;
}

/** What the driver asks of xl for one domain: everything an `xl create` config holds for it. */
export interface XlDomain {
  name: string;
  kernel: string;
  ramdisk?: string;
  cmdline?: string;
  memoryMiB: number;
  vcpus: number;
  disks: readonly XlDisk[];
  vifs: readonly XlVif[];
}

/** A value xl's config parser reads back unchanged inside double quotes. */
function quoted(field: string, value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value) || /["\\]/.test(value))
    throw new Error(`${field} ${JSON.stringify(value)}: xl configs take printable ASCII without " or \\`);
  return `"${value}"`;
}

/** A disk or vif spec: comma-separated key=value, so no value may hold a comma (target= is last anyway). */
function spec(field: string, pairs: [string, string][]): string {
  for (const [k, v] of pairs)
    if (v.includes(',') || v.includes('='))
      throw new Error(`${field} ${k}=${v}: no commas or = in a spec value`);
  const text = pairs.map(([k, v]) => `${k}=${v}`).join(',');
  quoted(field, text); // the same characters as a quoted value
  return text;
}

/** The disk spec `xl block-attach` and the config's `disk=` take (xl-disk-configuration). */
export function diskSpec(d: XlDisk): string {
  return spec('disk', [
    ['format', 'raw'],
    ['vdev', d.vdev],
    ['access', d.readOnly ? 'ro' : 'rw'],
    ['target', d.target],
  ]);
}

const vifPairs = (v: XlVif): [string, string][] => [
  ['bridge', v.bridge],
  ['mac', v.mac],
];

/** The vif spec of the config's `vif=` (xl-network-configuration). */
export function vifSpec(v: XlVif): string {
  return spec('vif', vifPairs(v));
}

/** What `xl network-attach DOMAIN` takes after the domain: the same keys, one argument each. */
export function vifArgs(v: XlVif): string[] {
  return vifSpec(v).split(',');
}

/**
 * The `xl create` config of a domain. A crash is preserved (the domain stays, state `c`, for the
 * evidence: a guest that crashed is the image's failure, not a VM that went away); a reboot
 * restarts it, a power-off ends it.
 */
export function xlConfig(d: XlDomain): string {
  const lines = [
    `name = ${quoted('name', d.name)}`,
    `kernel = ${quoted('kernel', d.kernel)}`,
    ...(d.ramdisk ? [`ramdisk = ${quoted('ramdisk', d.ramdisk)}`] : []),
    ...(d.cmdline ? [`extra = ${quoted('cmdline', d.cmdline)}`] : []),
    `memory = ${d.memoryMiB}`,
    `vcpus = ${d.vcpus}`,
    `disk = [ ${d.disks.map((x) => quoted('disk', diskSpec(x))).join(', ')} ]`,
    `vif = [ ${d.vifs.map((x) => quoted('vif', vifSpec(x))).join(', ')} ]`,
    'on_poweroff = "destroy"',
    'on_reboot = "restart"',
    'on_crash = "preserve"',
  ];
  return lines.join('\n') + '\n';
}

/** A locally administered MAC in Xen's OUI (00:16:3e), from 3 random bytes. */
export function xenMac(bytes: Uint8Array): string {
  return [
    '00',
    '16',
    '3e',
    ...[...bytes.slice(0, 3)].map((b) => (b & 0x7f).toString(16).padStart(2, '0')),
  ].join(':');
}
