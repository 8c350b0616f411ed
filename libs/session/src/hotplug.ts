export type HotplugKind = 'blk' | 'net';

/** What `add` plugged: enough for the suite to recognise the device in the guest's listing. */
export interface HotplugHandle {
  kind: HotplugKind;
  /** The device id on the host side (QEMU: the `device_add` id). */
  id: string;
  /** The hotplug-capable port it sits on. */
  port: string;
  /** For `net`: the MAC address the guest will see. */
  mac?: string;
  /** For `blk`: size in 512-byte sectors the guest will see. */
  sectors?: number;
}

/** One hotplug-capable port of the VM and what sits on it now, as the host's bus shows it. */
export interface HotplugPort {
  id: string;
  /** The device id on the port's secondary bus, or null when it is empty. */
  device: string | null;
}

/** Something the host side saw happen, as evidence (QEMU: a QMP event such as DEVICE_DELETED). */
export interface HostEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface SessionHotplug {
  /** The ports and their devices, read from the VM's bus (QEMU: `query-pci`), not from bookkeeping. */
  status(timeoutMs?: number): Promise<{ ports: HotplugPort[] }>;
  /** Adds a virtio device of `kind` on a free port; throws HostCommandError when the host refuses. */
  add(request: { kind: HotplugKind }, timeoutMs?: number): Promise<HotplugHandle>;
  /**
   * The guest driver's state of a hot-added virtio device as the device sees it (QEMU:
   * `x-query-virtio-status`): `ready` once the guest set DRIVER_OK, i.e. it found and took the device.
   */
  driver(handle: HotplugHandle, timeoutMs?: number): Promise<{ ready: boolean; statuses: string[] }>;
  /**
   * Unplugs through the guest (the guest must release the device) and resolves with the host's
   * event that proves it (QEMU: DEVICE_DELETED); SessionTimeoutError when the guest never does.
   */
  remove(handle: HotplugHandle, timeoutMs?: number): Promise<HostEvent>;
}
