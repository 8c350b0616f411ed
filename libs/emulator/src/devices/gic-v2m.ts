/**
 * The GICv2m MSI frame QEMU's `virt` pairs with GICv2 (at 0x0802_0000; QEMU's arm_gicv2m.c): a
 * write of an INTID to MSI_SETSPI_NS pulses that SPI, within the frame's 64 SPIs from SPI 48. The FDT
 * lists the frame, so Linux's GICv2 driver probes it whether or not a device sends MSIs.
 */
import type { IrqLine, MmioDevice } from './device';

const MSI_TYPER = 0x008;
const MSI_SETSPI_NS = 0x040;
const MSI_IIDR = 0xfcc;
/** ASCII 'Q', QEMU's product ID; no implementer. */
const PRODUCT_ID_QEMU = 0x51;

export interface GicV2mOptions {
  /** The first SPI (INTID - 32) of the frame, and how many. */
  firstSpi: number;
  spis: number;
  /** The input wire of INTID `intid` of the GIC. */
  line(intid: number): IrqLine;
}

export class GicV2m implements MmioDevice {
  constructor(private readonly o: GicV2mOptions) {}

  read(offset: number, _size: 1 | 2 | 4): number {
    if (offset === MSI_TYPER) return (((this.o.firstSpi + 32) << 16) | this.o.spis) >>> 0;
    if (offset === MSI_IIDR) return PRODUCT_ID_QEMU << 20;
    return 0;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    if (offset !== MSI_SETSPI_NS) return;
    const n = (value & 0x3ff) - (this.o.firstSpi + 32);
    if (n < 0 || n >= this.o.spis) return;
    // An edge: the SPIs of the frame are configured edge-triggered by the driver.
    const l = this.o.line(value & 0x3ff);
    l.set(true);
    l.set(false);
  }
}
