/**
 * QEMU's `virt` machine map (hw/arm/virt.c `base_memmap`, `a15irqmap`), as data: AAVMF finds its
 * flash, UART, RTC and fw_cfg at these addresses and learns the rest from the FDT. The emulator
 * uses the low-memory layout only (RAM ends below 4 GiB; PCIe ECAM and MMIO in their low windows).
 */

export interface Region {
  base: number;
  size: number;
}

export const VIRT_MAP = {
  /** Two CFI flash banks: code (read-only), then variables. */
  flash: { base: 0x0000_0000, size: 0x0800_0000 },
  gicDist: { base: 0x0800_0000, size: 0x0001_0000 },
  gicCpu: { base: 0x0801_0000, size: 0x0001_0000 },
  gicV2m: { base: 0x0802_0000, size: 0x0000_1000 },
  gicIts: { base: 0x0808_0000, size: 0x0002_0000 },
  gicRedist: { base: 0x080a_0000, size: 0x00f6_0000 },
  uart: { base: 0x0900_0000, size: 0x0000_1000 },
  rtc: { base: 0x0901_0000, size: 0x0000_1000 },
  fwCfg: { base: 0x0902_0000, size: 0x0000_0018 },
  gpio: { base: 0x0903_0000, size: 0x0000_1000 },
  /** 32 virtio-mmio transports, 0x200 apart. */
  virtioMmio: { base: 0x0a00_0000, size: 0x0000_0200 },
  pcieMmio: { base: 0x1000_0000, size: 0x2eff_0000 },
  pciePio: { base: 0x3eff_0000, size: 0x0001_0000 },
  pcieEcam: { base: 0x3f00_0000, size: 0x0100_0000 },
  ram: { base: 0x4000_0000, size: 0 },
} as const satisfies Record<string, Region>;

/** SPI numbers (GIC INTID = SPI + 32). */
export const VIRT_SPI = {
  uart: 1,
  rtc: 2,
  /** INTA..INTD of the PCIe host bridge: 3, 4, 5, 6. */
  pcie: 3,
  gpio: 7,
  virtioMmio: 16,
  /** The first of GICv2m's 64 MSI SPIs. */
  gicV2m: 48,
} as const;

/** PPI numbers (GIC INTID = PPI + 16) of the generic timer, PMU and GIC maintenance interrupt. */
export const VIRT_PPI = {
  securePhysTimer: 13,
  physTimer: 14,
  virtTimer: 11,
  hypTimer: 10,
  pmu: 7,
  gicMaintenance: 9,
} as const;

/**
 * The high-memory regions QEMU's `virt` places above 4 GiB by default (`highmem=on`): the PCIe
 * ECAM and 64-bit MMIO window. The emulator's machine is `highmem=off` and has neither; the FDT
 * generator knows them to compare itself with QEMU's default.
 */
export const VIRT_HIGH = {
  pcieEcam: { base: 0x40_1000_0000, size: 0x1000_0000 },
  pcieMmio: { base: 0x80_0000_0000, size: 0x80_0000_0000 },
} as const satisfies Record<string, Region>;
