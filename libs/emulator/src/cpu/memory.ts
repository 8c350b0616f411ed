/**
 * The physical bus: guest physical addresses below 4 GiB, in 64 KiB pages. A page is RAM (host
 * memory), ROM-device (reads straight from a host buffer, writes to its device: CFI flash in read
 * array mode) or a device window (every access to an `MmioDevice`). The CPU's accesses, after its
 * MMU, and devices' DMA (`dma()`) both go through it. User mode uses the same bus with RAM only.
 *
 * Reads and writes look up separate page tables (`rd`, `wr`), so a ROM-device page or a RAM page
 * not yet written (lazily allocated, reading as zero) costs the hot path nothing.
 */
import { DmaError, type DmaSpace, type MmioDevice } from '../devices/device';

export const PAGE_BITS = 16;
export const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;
const PAGES = 1 << (32 - PAGE_BITS);

/** Raised by a memory access that no page or device answers; the CPU turns it into an abort. */
export class MemoryFault extends Error {
  constructor(
    readonly address: number,
    readonly write: boolean,
  ) {
    super(`unmapped ${write ? 'write' : 'read'} at 0x${address.toString(16)}`);
  }
}

interface Window {
  base: number;
  size: number;
  device: MmioDevice;
}

/** A ROM-device region: `setRomMode(false)` sends reads to the device too (CFI command mode). */
export interface RomDeviceRegion {
  setRomMode(on: boolean): void;
}

const ZERO_PAGE = new DataView(new ArrayBuffer(PAGE_SIZE));

export class PagedMemory {
  /** Pages reads come from (RAM, ROM-device in ROM mode, the shared zero page for untouched lazy RAM). */
  private readonly rd = new Array<DataView | undefined>(PAGES).fill(undefined);
  /** Pages writes go to (RAM that has its own host page). */
  private readonly wr = new Array<DataView | undefined>(PAGES).fill(undefined);
  /** Pages of lazily allocated RAM (allocated on first write). */
  private readonly lazy = new Uint8Array(PAGES);
  private readonly windows: Window[] = [];

  /** Backs [start, start+length) with zeroed memory where it has none yet (allocated now). */
  map(start: number, length: number): void {
    if (length <= 0) return;
    const [first, last] = this.pageRange(start, length);
    for (let p = first; p <= last; p++) {
      if (this.wr[p] === undefined) this.own(p);
    }
  }

  /** RAM of `length` bytes at `start`, allocated page by page on first write (reads zero until then). */
  mapRam(start: number, length: number): void {
    const [first, last] = this.pageRange(start, length);
    for (let p = first; p <= last; p++) {
      if (this.wr[p] !== undefined) continue;
      this.rd[p] = ZERO_PAGE;
      this.lazy[p] = 1;
    }
  }

  /** A device's register window; 8-byte accesses reach it as two 4-byte ones, low half first. */
  addMmio(base: number, size: number, device: MmioDevice): void {
    this.windows.push({ base, size, device });
  }

  /**
   * `bytes` (64 KiB aligned, shared, not copied) mapped at `base`: reads come straight from it in
   * ROM mode; writes always go to `device` (at offset pa - base), as do reads outside ROM mode.
   */
  addRomDevice(base: number, bytes: Uint8Array, device: MmioDevice): RomDeviceRegion {
    if (base & PAGE_MASK || bytes.length & PAGE_MASK || bytes.byteOffset & 3)
      throw new Error('ROM-device region must be 64 KiB aligned');
    this.addMmio(base, bytes.length, device);
    const views: DataView[] = [];
    for (let o = 0; o < bytes.length; o += PAGE_SIZE)
      views.push(new DataView(bytes.buffer, bytes.byteOffset + o, PAGE_SIZE));
    const first = base >>> PAGE_BITS;
    const setRomMode = (on: boolean): void => {
      views.forEach((v, k) => (this.rd[first + k] = on ? v : undefined));
    };
    setRomMode(true);
    return { setRomMode };
  }

  r8(pa: number): number {
    const p = this.rd[pa >>> PAGE_BITS];
    if (p !== undefined) return p.getUint8(pa & PAGE_MASK);
    return this.deviceRead(pa, 1);
  }

  r16(pa: number): number {
    const p = this.rd[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 1) return p.getUint16(o, true);
    return this.slowRead(pa, 2);
  }

  r32(pa: number): number {
    const p = this.rd[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 3) return p.getUint32(o, true);
    return this.slowRead(pa, 4);
  }

  w8(pa: number, v: number): void {
    const p = this.wr[pa >>> PAGE_BITS];
    if (p !== undefined) p.setUint8(pa & PAGE_MASK, v);
    else this.slowWrite(pa, 1, v);
  }

  w16(pa: number, v: number): void {
    const p = this.wr[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 1) p.setUint16(o, v, true);
    else this.slowWrite(pa, 2, v);
  }

  w32(pa: number, v: number): void {
    const p = this.wr[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 3) p.setUint32(o, v, true);
    else this.slowWrite(pa, 4, v);
  }

  readBytes(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let i = 0;
    while (i < length) {
      const a = pa + i;
      const p = a < 2 ** 32 ? this.rd[a >>> PAGE_BITS] : undefined;
      if (p === undefined) {
        out[i++] = this.r8(a);
        continue;
      }
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, length - i);
      out.set(new Uint8Array(p.buffer, p.byteOffset + o, n), i);
      i += n;
    }
    return out;
  }

  /** Writes host data to RAM (loaders, DMA); throws MemoryFault where there is none. */
  writeBytes(pa: number, data: Uint8Array): void {
    let i = 0;
    while (i < data.length) {
      const a = pa + i;
      const p = this.ramPage(a);
      if (p === undefined) throw new MemoryFault(a, true);
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, data.length - i);
      new Uint8Array(p.buffer, o, n).set(data.subarray(i, i + n));
      i += n;
    }
  }

  fill(pa: number, length: number, value: number): void {
    for (let i = 0; i < length; i++) this.w8(pa + i, value);
  }

  /** A NUL-terminated string, at most `max` bytes. */
  readCString(pa: number, max = 4096): Uint8Array {
    let n = 0;
    while (n < max && this.r8(pa + n) !== 0) n++;
    return this.readBytes(pa, n);
  }

  /** The bus as a DMA master sees it (the devices' `DmaSpace`): RAM and device windows. */
  dma(): DmaSpace {
    const guard = <T>(pa: number, length: number, write: boolean, f: () => T): T => {
      if (pa < 0 || pa + length > 2 ** 32) throw new DmaError(pa, length, write);
      try {
        return f();
      } catch (e) {
        if (e instanceof MemoryFault) throw new DmaError(pa, length, write);
        throw e;
      }
    };
    const TWO32 = 4294967296;
    return {
      read: (pa, length) => guard(pa, length, false, () => this.readBytes(pa, length)),
      write: (pa, data) =>
        guard(pa, data.length, true, () => {
          if (this.ramPage(pa) !== undefined && this.ramPage(pa + data.length - 1) !== undefined)
            this.writeBytes(pa, data);
          else for (let i = 0; i < data.length; i++) this.w8(pa + i, data[i]);
        }),
      read16: (pa) => guard(pa, 2, false, () => this.r16(pa)),
      read32: (pa) => guard(pa, 4, false, () => this.r32(pa)),
      read64: (pa) => guard(pa, 8, false, () => this.r32(pa) + this.r32(pa + 4) * TWO32),
      write16: (pa, v) => guard(pa, 2, true, () => this.w16(pa, v)),
      write32: (pa, v) => guard(pa, 4, true, () => this.w32(pa, v)),
      write64: (pa, v) =>
        guard(pa, 8, true, () => {
          this.w32(pa, v >>> 0);
          this.w32(pa + 4, Math.floor(v / TWO32) >>> 0);
        }),
    };
  }

  private pageRange(start: number, length: number): [number, number] {
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor((start + length - 1) / PAGE_SIZE);
    if (last >= PAGES) throw new MemoryFault(start + length - 1, true);
    return [first, last];
  }

  /** Gives page `p` its own host memory (keeping what it read before: zero). */
  private own(p: number): DataView {
    const v = new DataView(new ArrayBuffer(PAGE_SIZE));
    this.rd[p] = v;
    this.wr[p] = v;
    this.lazy[p] = 0;
    return v;
  }

  /** The writable RAM page holding `pa`, allocating a lazy one. */
  private ramPage(pa: number): DataView | undefined {
    if (pa >= 2 ** 32) return undefined;
    const p = pa >>> PAGE_BITS;
    return this.wr[p] ?? (this.lazy[p] ? this.own(p) : undefined);
  }

  private slowRead(pa: number, size: number): number {
    if (this.rd[pa >>> PAGE_BITS] === undefined) return this.deviceRead(pa, size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.r8(pa + i);
    return v;
  }

  private slowWrite(pa: number, size: number, v: number): void {
    const p = pa >>> PAGE_BITS;
    if (this.wr[p] === undefined) {
      if (this.lazy[p]) this.own(p);
      else {
        const w = this.window(pa, size, true);
        w.device.write(pa - w.base, size as 1 | 2 | 4, v >>> 0);
        return;
      }
    }
    for (let i = 0; i < size; i++) this.w8(pa + i, (v >>> (8 * i)) & 0xff);
  }

  private deviceRead(pa: number, size: number): number {
    const w = this.window(pa, size, false);
    return w.device.read(pa - w.base, size as 1 | 2 | 4) >>> 0;
  }

  private window(pa: number, size: number, write: boolean): Window {
    const ws = this.windows;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i];
      if (pa >= w.base && pa + size <= w.base + w.size) return w;
    }
    throw new MemoryFault(pa, write);
  }
}
