import { HostCommandError, type HostEvent, type HotplugHandle, type SessionHotplug } from '@vmfarm/session';

const NO_PORTS = 'the emulator machine has no PCIe hotplug ports yet (no root ports, no pciehp)';

/**
 * Hotplug on the emulator: the machine has no root ports, so the bus lists none and every command
 * is refused with HostCommandError (the hotplug suite judges PLAT-HOTPLUG FAIL on 0 ports).
 */
export class EmulatorHotplug implements SessionHotplug {
  async status(): Promise<{ ports: [] }> {
    return { ports: [] };
  }

  async add(): Promise<HotplugHandle> {
    throw new HostCommandError('device_add', NO_PORTS);
  }

  async driver(): Promise<{ ready: boolean; statuses: string[] }> {
    throw new HostCommandError('virtio status', NO_PORTS);
  }

  async remove(): Promise<HostEvent> {
    throw new HostCommandError('device_del', NO_PORTS);
  }
}
