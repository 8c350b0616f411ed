/**
 * Guest physical memory: 64 KiB pages of host memory below 4 GiB, allocated on map. An access to an
 * unmapped page goes to the MMIO hook (devices, in the system emulator) or faults.
 */

export const PAGE_BITS = 16;
export const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;

/** Raised by a memory access that no page or device answers; the CPU turns it into an abort. */
export class MemoryFault extends Error {
  constructor(
    readonly address: number,
    readonly write: boolean,
  ) {
    super(`unmapped ${write ? 'write' : 'read'} at 0x${address.toString(16)}`);
  }
}

/** A device window: reads and writes of 1, 2, 4 or 8 bytes (8 as two halves, low first). */
export interface MmioHandler {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export class PagedMemory {
  private readonly pages: (DataView | undefined)[] = new Array<DataView | undefined>(
    1 << (32 - PAGE_BITS),
  ).fill(undefined);
  private readonly mmio: { base: number; size: number; handler: MmioHandler }[] = [];

  /** Backs [start, start+length) with zeroed memory where it has none yet. */
  map(start: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor((start + length - 1) / PAGE_SIZE);
    if (last >= this.pages.length) throw new MemoryFault(start + length - 1, true);
    for (let p = first; p <= last; p++) {
      if (this.pages[p] === undefined) this.pages[p] = new DataView(new ArrayBuffer(PAGE_SIZE));
    }
  }

  isMapped(pa: number): boolean {
    return pa < 2 ** 32 && this.pages[pa >>> PAGE_BITS] !== undefined;
  }

  addMmio(base: number, size: number, handler: MmioHandler): void {
    this.mmio.push({ base, size, handler });
  }

  r8(pa: number): number {
    const p = this.pages[pa >>> PAGE_BITS];
    if (p !== undefined) return p.getUint8(pa & PAGE_MASK);
    return this.device(pa, 1, false).handler.read(pa - this.device(pa, 1, false).base, 1);
  }

  r16(pa: number): number {
    const p = this.pages[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 1) return p.getUint16(o, true);
    return this.slowRead(pa, 2);
  }

  r32(pa: number): number {
    const p = this.pages[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 3) return p.getUint32(o, true);
    return this.slowRead(pa, 4);
  }

  w8(pa: number, v: number): void {
    const p = this.pages[pa >>> PAGE_BITS];
    if (p !== undefined) p.setUint8(pa & PAGE_MASK, v);
    else this.slowWrite(pa, 1, v);
  }

  w16(pa: number, v: number): void {
    const p = this.pages[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 1) p.setUint16(o, v, true);
    else this.slowWrite(pa, 2, v);
  }

  w32(pa: number, v: number): void {
    const p = this.pages[pa >>> PAGE_BITS];
    const o = pa & PAGE_MASK;
    if (p !== undefined && o <= PAGE_MASK - 3) p.setUint32(o, v, true);
    else this.slowWrite(pa, 4, v);
  }

  readBytes(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.r8(pa + i);
    return out;
  }

  writeBytes(pa: number, data: Uint8Array): void {
    let i = 0;
    while (i < data.length) {
      const a = pa + i;
      const p = this.pages[a >>> PAGE_BITS];
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

  private slowRead(pa: number, size: number): number {
    if (this.pages[pa >>> PAGE_BITS] === undefined) {
      const d = this.device(pa, size, false);
      return d.handler.read(pa - d.base, size);
    }
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.r8(pa + i);
    return v;
  }

  private slowWrite(pa: number, size: number, v: number): void {
    if (this.pages[pa >>> PAGE_BITS] === undefined) {
      const d = this.device(pa, size, true);
      d.handler.write(pa - d.base, size, v);
      return;
    }
    for (let i = 0; i < size; i++) this.w8(pa + i, (v >>> (8 * i)) & 0xff);
  }

  private device(pa: number, size: number, write: boolean) {
    for (const d of this.mmio) if (pa >= d.base && pa + size <= d.base + d.size) return d;
    throw new MemoryFault(pa, write);
  }
}
