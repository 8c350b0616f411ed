/**
 * QEMU's firmware configuration device, MMIO flavour (docs/specs/fw_cfg.rst), as `virt` maps it:
 * data at +0 (a byte stream, first byte at the lowest address of each access), the big-endian
 * 16-bit selector at +8 and the big-endian 64-bit DMA address at +16 (writing its low half starts
 * the transfer). Items are the fixed keys (signature, ID, UUID, ...) and named files listed in the
 * file directory (key 0x19).
 */
import { DmaError, type DmaSpace, type MmioDevice } from './device';

export const FW_CFG_KEY = {
  signature: 0x00,
  id: 0x01,
  uuid: 0x02,
  nographic: 0x04,
  nbCpus: 0x05,
  bootMenu: 0x0e,
  fileDir: 0x19,
  fileFirst: 0x20,
} as const;

const DMA_ERROR = 0x01;
const DMA_READ = 0x02;
const DMA_SKIP = 0x04;
const DMA_SELECT = 0x08;
const DMA_WRITE = 0x10;
/** "QEMU CFG", what a read of the DMA address register returns. */
const DMA_SIGNATURE_HI = 0x51454d55;
const DMA_SIGNATURE_LO = 0x20434647;

const bswap32 = (v: number) =>
  (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
const bswap16 = (v: number) => ((v & 0xff) << 8) | ((v >>> 8) & 0xff);

export class FwCfg implements MmioDevice {
  private readonly items = new Map<number, Uint8Array>();
  private readonly files = new Map<string, Uint8Array>();
  private selected = 0;
  private cursor = 0;
  private dmaHi = 0;

  constructor(private readonly dma: DmaSpace) {
    this.add(FW_CFG_KEY.signature, new TextEncoder().encode('QEMU'));
    // Traditional interface and DMA.
    this.addU32(FW_CFG_KEY.id, 3);
    this.add(FW_CFG_KEY.uuid, new Uint8Array(16));
    this.rebuildDir();
  }

  add(key: number, data: Uint8Array): void {
    this.items.set(key, data);
  }

  addU16(key: number, v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.add(key, b);
  }

  addU32(key: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.add(key, b);
  }

  /** Adds or replaces a named file. As in QEMU, files take keys from 0x20 in name order. */
  addFile(name: string, data: Uint8Array): void {
    this.files.set(name, data);
    this.rebuildDir();
  }

  /** The directory: a big-endian count, then per file size, select, reserved and a 56-byte name. */
  private rebuildDir(): void {
    const names = [...this.files.keys()].sort();
    const dir = new Uint8Array(4 + 64 * names.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, names.length);
    names.forEach((name, i) => {
      const key = FW_CFG_KEY.fileFirst + i;
      const data = this.files.get(name)!;
      this.items.set(key, data);
      const o = 4 + 64 * i;
      dv.setUint32(o, data.length);
      dv.setUint16(o + 4, key);
      dir.set(new TextEncoder().encode(name).subarray(0, 55), o + 8);
    });
    this.items.set(FW_CFG_KEY.fileDir, dir);
  }

  reset(): void {
    this.select(0);
    this.dmaHi = 0;
  }

  private select(key: number): void {
    this.selected = key;
    this.cursor = 0;
  }

  private nextByte(): number {
    const item = this.items.get(this.selected);
    if (item === undefined || this.cursor >= item.length) return 0;
    return item[this.cursor++];
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset < 8) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.nextByte() << (8 * i);
      return v >>> 0;
    }
    if (offset === 16 && size === 4) return bswap32(DMA_SIGNATURE_HI);
    if (offset === 20 && size === 4) return bswap32(DMA_SIGNATURE_LO);
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset === 8 && size === 2) this.select(bswap16(value));
    else if (offset === 16 && size === 4) this.dmaHi = bswap32(value);
    else if (offset === 20 && size === 4) {
      const addr = this.dmaHi * 2 ** 32 + bswap32(value);
      this.dmaHi = 0;
      this.transfer(addr);
    }
    // Writes to the data register are ignored (QEMU 2.4 and later).
  }

  /** Runs one FWCfgDmaAccess {be32 control, be32 length, be64 address} and writes its status back. */
  private transfer(desc: number): void {
    let control: number;
    let length: number;
    let address: number;
    try {
      control = bswap32(this.dma.read32(desc));
      length = bswap32(this.dma.read32(desc + 4));
      address = bswap32(this.dma.read32(desc + 8)) * 2 ** 32 + bswap32(this.dma.read32(desc + 12));
    } catch (err) {
      if (err instanceof DmaError) return;
      throw err;
    }
    if (control & DMA_SELECT) this.select(control >>> 16);
    let status = 0;
    try {
      if (control & DMA_READ) {
        const out = new Uint8Array(length);
        for (let i = 0; i < length; i++) out[i] = this.nextByte();
        this.dma.write(address, out);
      } else if (control & DMA_SKIP) {
        for (let i = 0; i < length; i++) this.nextByte();
      } else if (control & DMA_WRITE) {
        // No item is writable on this machine.
        status = DMA_ERROR;
      }
    } catch (err) {
      if (!(err instanceof DmaError)) throw err;
      status = DMA_ERROR;
    }
    try {
      this.dma.write32(desc, bswap32(status));
    } catch (err) {
      if (!(err instanceof DmaError)) throw err;
    }
  }
}
