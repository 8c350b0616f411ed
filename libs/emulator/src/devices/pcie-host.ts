/**
 * The PCIe host bridge's ECAM window (`pci-host-ecam-generic`) with only its own function behind
 * it, as QEMU's `gpex` has on an otherwise empty bus: 00:00.0, Red Hat 1b36:0008, class 0600 (host
 * bridge), subsystem 1af4:1100, no BARs, no capabilities. Every other bus/device/function reads as
 * all ones. Root ports and virtio-pci devices are the PCIe work of issue 11 scope 2, not yet done.
 */
import type { MmioDevice } from './device';

const CONFIG = 0x1000;

export class PcieHost implements MmioDevice {
  private readonly config = new Uint8Array(256);
  private readonly wmask = new Uint8Array(256);

  constructor() {
    this.reset();
    // Command: I/O, memory, bus master, SERR#, parity, INTx disable (as QEMU's default write mask).
    this.wmask[0x04] = 0x47;
    this.wmask[0x05] = 0x05;
    this.wmask[0x0c] = 0xff; // cache line size
    this.wmask[0x0d] = 0xff; // latency timer
  }

  reset(): void {
    const dv = new DataView(this.config.buffer);
    this.config.fill(0);
    dv.setUint16(0x00, 0x1b36, true);
    dv.setUint16(0x02, 0x0008, true);
    dv.setUint32(0x08, 0x0600_0000, true);
    dv.setUint16(0x2c, 0x1af4, true);
    dv.setUint16(0x2e, 0x1100, true);
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= CONFIG) return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
    const reg = offset & 0xfff;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (reg + i < 256 ? this.config[reg + i] : 0);
    return v >>> 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= CONFIG) return;
    for (let i = 0; i < size; i++) {
      const r = offset + i;
      if (r >= 256) break;
      const b = (value >>> (8 * i)) & 0xff;
      this.config[r] = (this.config[r] & ~this.wmask[r]) | (b & this.wmask[r]);
    }
  }
}
