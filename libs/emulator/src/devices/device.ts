/**
 * The seam between the machine (src/machine) and its devices (src/devices, one device per file).
 * A device sees only these interfaces: its register window, its interrupt wires, the guest's
 * physical address space for DMA, the clock and its host-side backend. It never sees the CPU.
 */

/**
 * A device's register window on the physical bus. `offset` is relative to the window's base.
 * Sizes are 1, 2 or 4 bytes; the bus splits an 8-byte access into two 4-byte ones, low half first,
 * so a 64-bit register is two 32-bit halves (as the GIC, ITS and virtio specs allow).
 * Reads return the unsigned value.
 */
export interface MmioDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** A level-sensitive interrupt wire from a device to the interrupt controller. */
export interface IrqLine {
  set(level: boolean): void;
}

/**
 * The guest's physical address space as a bus master sees it (virtqueues, fw_cfg DMA, MSI).
 * A write that lands on a device window (an MSI doorbell of GICv2m or the ITS) goes to that device.
 * Addresses are byte addresses as numbers (exact below 2^53). An access no RAM or device answers
 * throws `DmaError`; a device turns it into its own error state, never into a host crash.
 */
export interface DmaSpace {
  read(pa: number, length: number): Uint8Array;
  write(pa: number, data: Uint8Array): void;
  read16(pa: number): number;
  read32(pa: number): number;
  /** A 64-bit little-endian value; exact below 2^53, which covers every address the machine maps. */
  read64(pa: number): number;
  write16(pa: number, value: number): void;
  write32(pa: number, value: number): void;
  write64(pa: number, value: number): void;
}

export class DmaError extends Error {
  override name = 'DmaError';
  constructor(
    readonly address: number,
    readonly length: number,
    readonly write: boolean,
  ) {
    super(
      `DMA ${write ? 'write' : 'read'} of ${length} bytes at 0x${address.toString(16)} hits no RAM or device`,
    );
  }
}

/**
 * Guest time. Real mode follows the host clock; deterministic mode derives it from the instruction
 * count, so a test replays the same interrupts at the same instructions.
 */
export interface Clock {
  /** Nanoseconds of guest time since the machine started. */
  nowNs(): number;
  /** Calls `fn` once, when guest time reaches `atNs`; returns a function that cancels it. */
  at(atNs: number, fn: () => void): () => void;
}

/** A disk as a virtio-blk device sees it: 512-byte sectors; writes go to the instance, never the image file. */
export interface BlockBackend {
  readonly sectors: number;
  readonly readOnly: boolean;
  read(sector: number, count: number): Uint8Array;
  write(sector: number, data: Uint8Array): void;
  flush(): void;
  /** A stable serial the guest may read (VIRTIO_BLK_T_GET_ID). */
  readonly serial: string;
}

/** One node of the flattened device tree a device contributes; the machine serialises the tree. */
export interface FdtNode {
  /** `name@unit-address`, e.g. `pl011@9000000`. */
  name: string;
  /** In order. A number[] is a list of big-endian u32 cells; a string or string[] is NUL-terminated text; null is an empty property. */
  props: [string, number[] | string | string[] | Uint8Array | null][];
  children?: FdtNode[];
}

/**
 * What the GICv3 ITS (a PCI-side device) asks of the redistributors (the interrupt controller):
 * make LPI `intid` pending on processing element `pe`, if the LPI is enabled in the PE's
 * property table. The redistributors own the LPI configuration and pending tables.
 */
export interface LpiTarget {
  setLpiPending(intid: number, pe: number): void;
}

/**
 * A hot-pluggable slot as the machine's host side drives it (the emulator's `device_add` and
 * `device_del`): the slot device (a PCIe root port) raises presence-detect and the hotplug interrupt;
 * removal is a request to the guest, complete when the guest powers the slot off.
 */
export interface HotplugSlot {
  readonly id: string;
  /** The device in the slot, or null. */
  readonly occupant: string | null;
}
