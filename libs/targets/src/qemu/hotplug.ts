import {
  HostCommandError,
  type HotplugHandle,
  type HotplugKind,
  type HotplugPort,
  type SessionHotplug,
} from '@vmfarm/session';
import type { QmpEvent, SessionQmp } from './qmp';

/** Default waits for QMP replies and device removal (pciehp alone waits 5 s before releasing a slot). */
export const QMP_TIMEOUT_MS = 15_000;
const UNPLUG_TIMEOUT_MS = 30_000;
const SCRATCH_BYTES = 64 * 1024 * 1024;

/** Sparse scratch disks in the run directory on the QEMU host (it goes, with them, on close). */
export interface ScratchDisks {
  path(n: number): string;
  create(path: string, bytes: number): Promise<void>;
  /** Best effort. */
  remove(path: string): void;
}

interface Plugged extends HotplugHandle {
  node?: string;
  netdev?: string;
  file?: string;
}

/**
 * Hotplug over QMP: virtio-blk (a sparse scratch disk in the run directory) and virtio-net (user
 * networking, no option ROM) on the machine's empty root ports; the bus as `query-pci` shows it.
 */
export class QemuHotplug implements SessionHotplug {
  private readonly plugged = new Map<string, Plugged>();
  private seq = 0;

  constructor(
    private readonly qmp: SessionQmp,
    private readonly rootPorts: readonly string[],
    private readonly scratch: ScratchDisks,
  ) {}

  private freePort(): string | undefined {
    const used = new Set([...this.plugged.values()].map((p) => p.port));
    return this.rootPorts.find((id) => !used.has(id));
  }

  async add({ kind }: { kind: HotplugKind }, timeoutMs = QMP_TIMEOUT_MS): Promise<HotplugHandle> {
    const port = this.freePort();
    if (!port)
      throw new HostCommandError(
        'device_add',
        `no free hotplug root port (the VM has ${this.rootPorts.length})`,
      );
    const n = ++this.seq;
    const p: Plugged = { kind, id: `hp-${kind}${n}`, port };
    this.plugged.set(p.id, p);
    try {
      if (kind === 'blk') {
        p.file = this.scratch.path(n);
        await this.scratch.create(p.file, SCRATCH_BYTES);
        p.sectors = SCRATCH_BYTES / 512;
        p.node = `${p.id}-node`;
        await this.qmp.execute(
          'blockdev-add',
          { driver: 'raw', 'node-name': p.node, file: { driver: 'file', filename: p.file } },
          timeoutMs,
        );
        await this.qmp.execute(
          'device_add',
          { driver: 'virtio-blk-pci', id: p.id, drive: p.node, bus: port },
          timeoutMs,
        );
      } else {
        p.netdev = `${p.id}-netdev`;
        p.mac = `52:54:00:76:6d:${n.toString(16).padStart(2, '0')}`;
        await this.qmp.execute('netdev_add', { type: 'user', id: p.netdev }, timeoutMs);
        // No option ROM: the firmware has its own virtio-net driver and ipxe-qemu may be absent.
        await this.qmp.execute(
          'device_add',
          { driver: 'virtio-net-pci', id: p.id, netdev: p.netdev, mac: p.mac, bus: port, romfile: '' },
          timeoutMs,
        );
      }
    } catch (err) {
      await this.release(p, timeoutMs);
      throw err;
    }
    const { node: _n, netdev: _d, file: _f, ...handle } = p;
    return handle;
  }

  /** The root ports as `query-pci` shows them: what the guest's bus really holds. */
  async status(timeoutMs = QMP_TIMEOUT_MS): Promise<{ ports: HotplugPort[] }> {
    const buses = await this.qmp.execute<QueryPciBus[]>('query-pci', undefined, timeoutMs);
    const byId = new Map<string, string | null>();
    const visit = (devices: QueryPciDevice[]) => {
      for (const d of devices) {
        if (!d.pci_bridge) continue;
        const below = d.pci_bridge.devices ?? [];
        byId.set(d.qdev_id, below[0]?.qdev_id ?? null);
        visit(below);
      }
    };
    for (const bus of buses) visit(bus.devices);
    return {
      ports: this.rootPorts.filter((id) => byId.has(id)).map((id) => ({ id, device: byId.get(id)! })),
    };
  }

  async driver(
    handle: HotplugHandle,
    timeoutMs = QMP_TIMEOUT_MS,
  ): Promise<{ ready: boolean; statuses: string[] }> {
    if (!this.plugged.has(handle.id)) throw new Error(`${handle.id} is not plugged in this session`);
    const reply = await this.qmp.execute<{ status: { statuses: string[] } }>(
      'x-query-virtio-status',
      { path: `/machine/peripheral/${handle.id}/virtio-backend` },
      timeoutMs,
    );
    const statuses = reply.status.statuses;
    return { ready: statuses.some((x) => x.startsWith('VIRTIO_CONFIG_S_DRIVER_OK')), statuses };
  }

  async remove(handle: HotplugHandle, timeoutMs = UNPLUG_TIMEOUT_MS): Promise<QmpEvent> {
    const p = this.plugged.get(handle.id);
    if (!p) throw new Error(`${handle.id} is not plugged in this session`);
    const since = this.qmp.events().length;
    await this.qmp.execute('device_del', { id: p.id });
    const event = await this.qmp.waitForEvent('DEVICE_DELETED', {
      timeoutMs,
      since,
      where: (e) => e.data?.device === p.id,
      what: `QMP event DEVICE_DELETED for ${p.id} (the guest must release the device)`,
    });
    await this.release(p, QMP_TIMEOUT_MS);
    return event;
  }

  /** A new QEMU process has none of the hot-added devices: forget them (their scratch files go). */
  forgetAll(): void {
    for (const p of this.plugged.values()) if (p.file) this.scratch.remove(p.file);
    this.plugged.clear();
  }

  /** Drops the backend of a device that is gone (or was never added); best effort. */
  private async release(p: Plugged, timeoutMs: number): Promise<void> {
    this.plugged.delete(p.id);
    const quietly = (command: string, args: Record<string, unknown>) =>
      this.qmp.execute(command, args, timeoutMs).catch(() => undefined);
    if (p.node) await quietly('blockdev-del', { 'node-name': p.node });
    if (p.netdev) await quietly('netdev_del', { id: p.netdev });
    if (p.file) this.scratch.remove(p.file);
  }
}

interface QueryPciDevice {
  qdev_id: string;
  pci_bridge?: { devices?: QueryPciDevice[] };
}

interface QueryPciBus {
  devices: QueryPciDevice[];
}
