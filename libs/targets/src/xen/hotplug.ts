import {
  HostCommandError,
  SessionTimeoutError,
  type HostEvent,
  type HotplugHandle,
  type HotplugKind,
  type HotplugPort,
  type SessionHotplug,
} from '@vmfarm/session';
import { randomBytes } from 'node:crypto';
import { diskSpec, vifArgs, xenMac } from './config';
import type { XenHostCommands } from './host';
import { describeXenbusState, parseXlDeviceList, vbdDevid, type XlDeviceRow } from './parse';

/** The PV disks a guest may get hot-added (xvda is the boot disk). */
export const HOTPLUG_VDEVS = ['xvdb', 'xvdc', 'xvdd', 'xvde'] as const;
/** How many vifs besides the boot one may be hot-added (their ids are xl's: 1, 2, …). */
export const HOTPLUG_VIFS = 4;
const SCRATCH_MIB = 64;
const CONNECTED = 4;

/** What the session tells its hotplug: the running domain and where scratch disks go. */
export interface XenDomainRef {
  name: string;
  domid(): number;
  /** The session's run directory on the host. */
  runDir(): string;
  bridge: string;
}

const NET_PORT = (devid: number) => `vif/${devid}`;

/**
 * Xen PV hotplug: disks with `xl block-attach/-detach` (a raw scratch file per disk, on a loop
 * device through the block hotplug script), NICs with `xl network-attach/-detach` on the profile's
 * bridge. What is attached is read from xl's device lists and xenstore (the backend's and the
 * frontend's xenbus states), never from bookkeeping.
 */
export class XenHotplug implements SessionHotplug {
  constructor(
    private readonly xl: XenHostCommands,
    private readonly domain: XenDomainRef,
  ) {}

  private async list(kind: HotplugKind): Promise<XlDeviceRow[]> {
    const sub = kind === 'blk' ? 'block-list' : 'network-list';
    return parseXlDeviceList(await this.xl.must('xl', [sub, this.domain.name]), kind);
  }

  async status(): Promise<{ ports: HotplugPort[] }> {
    const disks = new Set((await this.list('blk')).map((r) => r.devid));
    const vifs = new Set((await this.list('net')).map((r) => r.devid));
    return {
      ports: [
        ...HOTPLUG_VDEVS.map((v) => ({ id: v, device: disks.has(vbdDevid(v)) ? v : null })),
        ...Array.from({ length: HOTPLUG_VIFS }, (_, i) => NET_PORT(i + 1)).map((p) => ({
          id: p,
          device: vifs.has(Number(p.split('/')[1])) ? p : null,
        })),
      ],
    };
  }

  async add(request: { kind: HotplugKind }): Promise<HotplugHandle> {
    return request.kind === 'blk' ? this.addDisk() : this.addNic();
  }

  private async addDisk(): Promise<HotplugHandle> {
    const used = new Set((await this.list('blk')).map((r) => r.devid));
    const vdev = HOTPLUG_VDEVS.find((v) => !used.has(vbdDevid(v)));
    if (!vdev)
      throw new HostCommandError(
        'xl block-attach',
        `every hotplug disk (${HOTPLUG_VDEVS.join(', ')}) is in use`,
      );
    const target = `${this.domain.runDir()}/scratch-${vdev}.img`;
    await this.xl.must('truncate', ['-s', `${SCRATCH_MIB}M`, target]);
    await this.xl.must('xl', ['block-attach', this.domain.name, diskSpec({ vdev, target })]);
    return { kind: 'blk', id: vdev, port: vdev, sectors: (SCRATCH_MIB << 20) / 512 };
  }

  private async addNic(): Promise<HotplugHandle> {
    const mac = xenMac(randomBytes(3));
    await this.xl.must('xl', [
      'network-attach',
      this.domain.name,
      ...vifArgs({ bridge: this.domain.bridge, mac }),
    ]);
    const row = (await this.list('net')).find((r) => r.mac === mac);
    if (!row)
      throw new HostCommandError(
        'xl network-attach',
        `xl network-list does not show ${mac} after attaching it`,
      );
    return { kind: 'net', id: NET_PORT(row.devid), port: NET_PORT(row.devid), mac };
  }

  /** The device's row in xl's list, or null when the domain no longer has it. */
  private async row(handle: HotplugHandle): Promise<XlDeviceRow | null> {
    const devid = handle.kind === 'blk' ? vbdDevid(handle.id) : Number(handle.id.split('/')[1]);
    return (await this.list(handle.kind)).find((r) => r.devid === devid) ?? null;
  }

  private frontendPath(handle: HotplugHandle, row: XlDeviceRow): string {
    return `/local/domain/${this.domain.domid()}/device/${handle.kind === 'blk' ? 'vbd' : 'vif'}/${row.devid}`;
  }

  /** Ready once both ends of the PV device say Connected (xenbus state 4) in xenstore. */
  async driver(handle: HotplugHandle): Promise<{ ready: boolean; statuses: string[] }> {
    const row = await this.row(handle);
    if (!row) return { ready: false, statuses: ['absent: xl lists no such device'] };
    const backend = await this.xl.xenstoreRead(`${row.backendPath}/state`);
    const frontend = await this.xl.xenstoreRead(`${this.frontendPath(handle, row)}/state`);
    const show = (v: string | null) => (v === null ? 'absent' : describeXenbusState(Number(v)));
    return {
      ready: Number(backend) === CONNECTED && Number(frontend) === CONNECTED,
      statuses: [`backend: ${show(backend)} ${row.backendPath}`, `frontend: ${show(frontend)}`],
    };
  }

  /**
   * Detaches through the guest (xl asks the frontend to close and waits for it) and resolves once
   * the backend's xenstore directory is gone: that is the host's proof the device left.
   */
  async remove(handle: HotplugHandle, timeoutMs = 60_000): Promise<HostEvent> {
    const row = await this.row(handle);
    if (!row) throw new HostCommandError(`detach ${handle.id}`, 'the domain has no such device');
    const before = await this.xl.xenstoreRead(`${this.frontendPath(handle, row)}/state`);
    const args =
      handle.kind === 'blk'
        ? ['block-detach', this.domain.name, handle.id]
        : ['network-detach', this.domain.name, String(row.devid)];
    let said: string;
    try {
      const r = await this.xl.run('xl', args, timeoutMs);
      said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' / ');
      if (r.code !== 0) throw new HostCommandError(`xl ${args.join(' ')}`, said || `exit status ${r.code}`);
    } catch (err) {
      if (err instanceof HostCommandError) throw err;
      throw new SessionTimeoutError(`xl ${args.join(' ')}`, timeoutMs, []);
    }
    const backend = await this.xl.xenstoreRead(`${row.backendPath}/state`);
    if (backend !== null)
      throw new HostCommandError(
        `xl ${args.join(' ')}`,
        `the backend ${row.backendPath} is still there (state ${describeXenbusState(Number(backend))})`,
      );
    const now = Date.now();
    return {
      event: 'XEN_DEVICE_REMOVED',
      data: {
        device: handle.id,
        backendPath: row.backendPath,
        frontendStateBefore: before === null ? null : describeXenbusState(Number(before)),
        xl: said,
      },
      timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
    };
  }
}
