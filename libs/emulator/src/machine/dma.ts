/** The guest physical address space as devices see it for DMA: RAM pages and device windows of PagedMemory. */
import { DmaError, type DmaSpace } from '../devices/device';
import { MemoryFault, type PagedMemory } from '../cpu/memory';

export class MemoryDma implements DmaSpace {
  constructor(private readonly mem: PagedMemory) {}

  private guard<T>(pa: number, length: number, write: boolean, fn: () => T): T {
    if (pa < 0 || pa + length > 2 ** 32) throw new DmaError(pa, length, write);
    try {
      return fn();
    } catch (err) {
      if (err instanceof MemoryFault) throw new DmaError(pa, length, write);
      throw err;
    }
  }

  read(pa: number, length: number): Uint8Array {
    return this.guard(pa, length, false, () => this.mem.readBytes(pa, length));
  }

  write(pa: number, data: Uint8Array): void {
    this.guard(pa, data.length, true, () => {
      if (data.length > 0 && this.mem.isMapped(pa) && this.mem.isMapped(pa + data.length - 1)) {
        this.mem.writeBytes(pa, data);
      } else {
        for (let i = 0; i < data.length; i++) this.mem.w8(pa + i, data[i]);
      }
    });
  }

  read16(pa: number): number {
    return this.guard(pa, 2, false, () => this.mem.r16(pa));
  }

  read32(pa: number): number {
    return this.guard(pa, 4, false, () => this.mem.r32(pa) >>> 0);
  }

  read64(pa: number): number {
    return this.guard(pa, 8, false, () => (this.mem.r32(pa + 4) >>> 0) * 2 ** 32 + (this.mem.r32(pa) >>> 0));
  }

  write16(pa: number, value: number): void {
    this.guard(pa, 2, true, () => this.mem.w16(pa, value));
  }

  write32(pa: number, value: number): void {
    this.guard(pa, 4, true, () => this.mem.w32(pa, value >>> 0));
  }

  write64(pa: number, value: number): void {
    this.guard(pa, 8, true, () => {
      this.mem.w32(pa, value >>> 0);
      this.mem.w32(pa + 4, Math.floor(value / 2 ** 32) >>> 0);
    });
  }
}
