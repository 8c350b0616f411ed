/**
 * A CFI parallel NOR flash bank with the Intel/Sharp command set, as QEMU's pflash_cfi01 models the
 * `virt` machine's banks: 32-bit bank of two interleaved x16 devices (commands and status replicated
 * in each 16-bit lane), 256 KiB erase blocks, JEDEC IDs 0x89/0x18. edk2's NorFlash driver uses read
 * array, read status, clear status, word program, buffered program, block erase and block unlock.
 * Programs and erases go through `persist`, so the bank's file follows each change.
 */
import type { MmioDevice } from './device';

const SECTOR = 256 * 1024;
const BANK_WIDTH = 4;
const DEVICE_WIDTH = 2;
const DEVICES = BANK_WIDTH / DEVICE_WIDTH;

const STATUS_READY = 0x80;
const STATUS_ERASE_ERROR = 0x20;
const STATUS_PROGRAM_ERROR = 0x10;

export interface PflashOptions {
  /** The bank's contents (its length is the bank size); the device reads and changes it in place. */
  data: Uint8Array;
  readOnly: boolean;
  /** Called after each change with the bytes that changed. */
  persist?: (offset: number, bytes: Uint8Array) => void;
  /** Read-array mode on or off: the bus then reads the bytes directly or asks the device (QEMU's romd mode). */
  romMode?: (on: boolean) => void;
}

export class Pflash implements MmioDevice {
  private command = 0;
  private wcycle = 0;
  private status = STATUS_READY;
  /** Words left in a buffered program. */
  private counter = 0;
  private readonly view: DataView;
  private readonly cfi = new Uint8Array(0x40);

  constructor(private readonly o: PflashOptions) {
    this.view = new DataView(o.data.buffer, o.data.byteOffset, o.data.byteLength);
    const perDevice = o.data.length / DEVICES;
    const blocks = o.data.length / SECTOR;
    const sectorPerDevice = SECTOR / DEVICES;
    const c = this.cfi;
    c.set([0x51, 0x52, 0x59, 0x01, 0x00, 0x31, 0x00], 0x10); // "QRY", Intel command set, PRI at 0x31
    c.set([0x45, 0x55, 0x00, 0x00, 0x07, 0x07, 0x0a, 0x00, 0x04, 0x04, 0x04, 0x00], 0x1b); // voltages, timeouts
    c[0x27] = 31 - Math.clz32(perDevice);
    c.set([0x02, 0x00, 0x0b, 0x00, 0x01], 0x28); // x16 interface, 2 KiB write buffer, one erase region
    c.set(
      [(blocks - 1) & 0xff, (blocks - 1) >> 8, (sectorPerDevice >> 8) & 0xff, sectorPerDevice >> 16],
      0x2d,
    );
    c.set([0x50, 0x52, 0x49, 0x31, 0x30], 0x31); // "PRI" 1.0
    c[0x3f] = 0x01;
  }

  private get cmd(): number {
    return this.command;
  }

  private set cmd(c: number) {
    if ((c === 0) !== (this.command === 0)) this.o.romMode?.(c === 0);
    this.command = c;
  }

  get size(): number {
    return this.o.data.length;
  }

  reset(): void {
    this.cmd = 0;
    this.wcycle = 0;
    this.status = STATUS_READY;
  }

  /** A value in each device's lane of an access of `size` bytes. */
  private replicate(v: number, size: number): number {
    if (size <= DEVICE_WIDTH) return v;
    return ((v << 16) | (v & 0xffff)) >>> 0;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    switch (this.cmd) {
      case 0x00:
        return this.readArray(offset, size);
      case 0x10:
      case 0x20:
      case 0x28:
      case 0x40:
      case 0x50:
      case 0x60:
      case 0x70:
      case 0xe8:
        return this.replicate(this.status, size);
      case 0x90: {
        // Read identifier: manufacturer at word 0, device at word 1 of each device.
        const idx = (offset / BANK_WIDTH) & 0xff;
        const id = idx === 0 ? 0x89 : idx === 1 ? 0x18 : 0;
        return this.replicate(id, size);
      }
      case 0x98: {
        const idx = offset / BANK_WIDTH;
        const v = idx < this.cfi.length ? this.cfi[idx] : 0;
        return this.replicate(v, size);
      }
      default:
        this.cmd = 0;
        this.wcycle = 0;
        return this.readArray(offset, size);
    }
  }

  private readArray(offset: number, size: number): number {
    if (offset + size > this.o.data.length) return 0;
    if (size === 4) return this.view.getUint32(offset, true);
    if (size === 2) return this.view.getUint16(offset, true);
    return this.o.data[offset];
  }

  private program(offset: number, size: number, value: number): void {
    if (this.o.readOnly || offset + size > this.o.data.length) {
      this.status |= STATUS_PROGRAM_ERROR;
      return;
    }
    // As QEMU: the value replaces the bytes (no AND with the erased state).
    if (size === 4) this.view.setUint32(offset, value >>> 0, true);
    else if (size === 2) this.view.setUint16(offset, value & 0xffff, true);
    else this.o.data[offset] = value & 0xff;
    this.o.persist?.(offset, this.o.data.subarray(offset, offset + size));
  }

  private erase(offset: number): void {
    if (this.o.readOnly) {
      this.status |= STATUS_ERASE_ERROR;
      return;
    }
    const start = offset - (offset % SECTOR);
    this.o.data.fill(0xff, start, start + SECTOR);
    this.o.persist?.(start, this.o.data.subarray(start, start + SECTOR));
  }

  private readArrayMode(): void {
    this.wcycle = 0;
    this.cmd = 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    const cmd = value & 0xff;
    if (this.wcycle === 0) {
      switch (cmd) {
        case 0x00:
        case 0xf0:
        case 0xff:
          this.readArrayMode();
          return;
        case 0x10:
        case 0x40:
        case 0x20:
        case 0x28:
        case 0x60:
          this.cmd = cmd;
          this.wcycle = 1;
          return;
        case 0x50:
          this.status = 0;
          this.readArrayMode();
          return;
        case 0x70:
        case 0x90:
        case 0x98:
          this.cmd = cmd;
          return;
        case 0xe8:
          this.cmd = cmd;
          this.wcycle = 1;
          this.status |= STATUS_READY;
          return;
        default:
          this.readArrayMode();
          return;
      }
    }
    if (this.wcycle === 1) {
      switch (this.cmd) {
        case 0x10:
        case 0x40:
          this.program(offset, size, value);
          this.status |= STATUS_READY;
          this.wcycle = 0;
          return;
        case 0x20:
        case 0x28:
          if (cmd === 0xd0) {
            this.erase(offset);
            this.status |= STATUS_READY;
            this.wcycle = 0;
          } else this.readArrayMode();
          return;
        case 0x60:
          // Block lock/unlock: the model has no lock bits; either confirm completes.
          if (cmd === 0xd0 || cmd === 0x01) {
            this.status |= STATUS_READY;
            this.wcycle = 0;
          } else this.readArrayMode();
          return;
        case 0xe8:
          // The word count minus one, in one device's lane.
          this.counter = value & 0xffff;
          this.wcycle = 2;
          return;
        default:
          this.readArrayMode();
          return;
      }
    }
    if (this.wcycle === 2 && this.cmd === 0xe8) {
      this.program(offset, size, value);
      this.status |= STATUS_READY;
      if (this.counter === 0) this.wcycle = 3;
      else this.counter--;
      return;
    }
    if (this.wcycle === 3 && this.cmd === 0xe8) {
      if (cmd === 0xd0) {
        this.wcycle = 0;
        this.status |= STATUS_READY;
      } else this.readArrayMode();
      return;
    }
    this.readArrayMode();
  }
}
