/**
 * Readers of what xl prints (its human-readable tables: xl 4.17 has no machine format for them) and of
 * xenstore values. Each reader names the line it could not read rather than guessing.
 */

/** `xl info`: `key : value` lines. */
export function parseXlInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s*:\s?(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** A domain's state as `xl list` shows it: the letters of `r-----` that are set. */
export interface XlDomainRow {
  name: string;
  id: number;
  memoryMiB: number;
  vcpus: number;
  /** running, blocked, paused, shutdown, crashed, dying: the flags set. */
  state: XlStateFlag[];
  cpuSeconds: number;
}
export type XlStateFlag = 'running' | 'blocked' | 'paused' | 'shutdown' | 'crashed' | 'dying';
const FLAGS: Record<string, XlStateFlag> = {
  r: 'running',
  b: 'blocked',
  p: 'paused',
  s: 'shutdown',
  c: 'crashed',
  d: 'dying',
};

/** `xl list [name]`: a header, then `Name ID Mem VCPUs State Time(s)` rows. */
export function parseXlList(text: string): XlDomainRow[] {
  const rows: XlDomainRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || /^Name\s+ID\s/.test(line)) continue;
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([rbpscd-]{6})\s+([\d.]+)\s*$/.exec(line);
    if (!m) throw new Error(`xl list: cannot read ${JSON.stringify(line)}`);
    rows.push({
      name: m[1],
      id: Number(m[2]),
      memoryMiB: Number(m[3]),
      vcpus: Number(m[4]),
      state: [...m[5]].filter((c) => c !== '-').map((c) => FLAGS[c]),
      cpuSeconds: Number(m[6]),
    });
  }
  return rows;
}

/** One PV device of a domain as `xl block-list` / `xl network-list` show it. */
export interface XlDeviceRow {
  /** The device id: the vbd's number (51728 for xvdb), the vif's index. */
  devid: number;
  backendDomain: number;
  /** The frontend's xenbus state (4: connected). */
  state: number;
  /** For a vif: its MAC. */
  mac?: string;
  /** Where the backend keeps the device in xenstore. */
  backendPath: string;
}

/**
 * `xl block-list DOM` (`Vdev BE handle state evt-ch ring-ref BE-path`) or `xl network-list DOM`
 * (`Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref BE-path`).
 */
export function parseXlDeviceList(text: string, kind: 'blk' | 'net'): XlDeviceRow[] {
  const rows: XlDeviceRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || /^(Vdev|Idx)\s/.test(line)) continue;
    const w = line.trim().split(/\s+/);
    const row =
      kind === 'blk'
        ? w.length === 7 && { devid: w[0], be: w[1], state: w[3], path: w[6] }
        : w.length === 8 && { devid: w[0], be: w[1], mac: w[2], state: w[4], path: w[7] };
    if (!row || !/^\d+$/.test(row.devid) || !/^-?\d+$/.test(row.state) || !row.path.startsWith('/'))
      throw new Error(`xl ${kind === 'blk' ? 'block' : 'network'}-list: cannot read ${JSON.stringify(line)}`);
    rows.push({
      devid: Number(row.devid),
      backendDomain: Number(row.be),
      state: Number(row.state),
      ...('mac' in row ? { mac: row.mac } : {}),
      backendPath: row.path,
    });
  }
  return rows;
}

/** Xenbus states (xen/include/public/io/xenbus.h), for evidence. */
export const XENBUS_STATES = [
  'Unknown',
  'Initialising',
  'InitWait',
  'Initialised',
  'Connected',
  'Closing',
  'Closed',
  'Reconfiguring',
  'Reconfigured',
] as const;

/** `4 (Connected)`. */
export function describeXenbusState(state: number): string {
  return `${state} (${XENBUS_STATES[state] ?? 'invalid'})`;
}

/**
 * The vbd device id of a Linux-style PV disk name, as xl computes it for `xvd[a-z]`: 202 << 8 | n << 4
 * (xvda 51712, xvdb 51728).
 */
export function vbdDevid(vdev: string): number {
  const m = /^xvd([a-p])$/.exec(vdev);
  if (!m) throw new Error(`${vdev}: only xvda…xvdp are used here`);
  return (202 << 8) | ((m[1].charCodeAt(0) - 97) << 4);
}
