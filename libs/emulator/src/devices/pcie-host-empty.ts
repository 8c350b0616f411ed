/**
 * The PCIe host bridge's ECAM window with nothing behind it: configuration reads return all ones
 * (no function at any bus/device/function), writes are ignored. The FDT lists QEMU's
 * pci-host-ecam-generic node, so AAVMF and Linux probe this window and find an empty bus; the
 * root ports and virtio-pci devices are the PCIe work (issue 11 scope 2, not yet done).
 */
import type { MmioDevice } from './device';

export class EmptyPcieHost implements MmioDevice {
  read(_offset: number, size: 1 | 2 | 4): number {
    return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
  }

  write(): void {
    // No function decodes configuration writes.
  }
}
