/**
 * The virtio-mmio transport (virtio 1.1 section 4.2), legacy (version 1, QEMU 7.2's default
 * `force-legacy=on`) or modern (version 2), with split virtqueues. An empty transport reports
 * device ID 0, as QEMU's unused ones do. The interrupt line is high while InterruptStatus is
 * non-zero, as in QEMU.
 */
import { DmaError, type DmaSpace, type IrqLine, type MmioDevice } from './device';

/** What a virtio device behind the transport provides. */
export interface VirtioBackend {
  readonly deviceId: number;
  /** Device feature bits 0..63 (the transport adds VIRTIO_F_VERSION_1 in modern mode). */
  readonly features: bigint;
  readonly queueMax: number;
  readonly queues: number;
  readConfig(offset: number, size: number): number;
  writeConfig(offset: number, size: number, value: number): void;
  /** The driver notified queue `q`. */
  notify(queue: Virtqueue): void;
  reset(): void;
}

const VRING_DESC_F_NEXT = 1;
const VRING_DESC_F_WRITE = 2;
const VRING_DESC_F_INDIRECT = 4;
const VIRTIO_F_VERSION_1 = 1n << 32n;
const VIRTIO_F_INDIRECT_DESC = 1n << 28n;
const STATUS_NEEDS_RESET = 0x40;

export interface DescSegment {
  addr: number;
  len: number;
  write: boolean;
}

/** One split virtqueue: the driver's descriptor table, available ring and used ring in guest memory. */
export class Virtqueue {
  num = 0;
  ready = false;
  desc = 0;
  avail = 0;
  used = 0;
  lastAvail = 0;
  /** Legacy layout inputs. */
  align = 4096;
  pfn = 0;

  constructor(
    readonly index: number,
    private readonly dma: DmaSpace,
    private readonly interrupt: () => void,
  ) {}

  reset(): void {
    this.num = 0;
    this.ready = false;
    this.desc = this.avail = this.used = 0;
    this.lastAvail = 0;
    this.align = 4096;
    this.pfn = 0;
  }

  /** Legacy: the rings follow each other from the page frame the driver gave. */
  setLegacyLayout(pageSize: number): void {
    this.desc = this.pfn * pageSize;
    this.avail = this.desc + 16 * this.num;
    const availEnd = this.avail + 4 + 2 * this.num + 2;
    this.used = Math.ceil(availEnd / this.align) * this.align;
    this.ready = this.pfn !== 0;
    this.lastAvail = 0;
  }

  /** Pops the next available chain: its head and segments, or null when the ring is empty. */
  pop(): { head: number; segments: DescSegment[] } | null {
    if (!this.ready || this.num === 0) return null;
    const availIdx = this.dma.read16(this.avail + 2);
    if (availIdx === this.lastAvail) return null;
    const head = this.dma.read16(this.avail + 4 + 2 * (this.lastAvail % this.num));
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    const segments: DescSegment[] = [];
    let table = this.desc;
    let size = this.num;
    let i = head;
    for (let guard = 0; guard < 1024; guard++) {
      const d = table + 16 * i;
      const addr = this.dma.read64(d);
      const len = this.dma.read32(d + 8);
      const flags = this.dma.read16(d + 12);
      const next = this.dma.read16(d + 14);
      if (flags & VRING_DESC_F_INDIRECT) {
        table = addr;
        size = len / 16;
        i = 0;
        continue;
      }
      segments.push({ addr, len, write: (flags & VRING_DESC_F_WRITE) !== 0 });
      if ((flags & VRING_DESC_F_NEXT) === 0) break;
      i = next;
      if (i >= size) throw new DmaError(table + 16 * i, 16, false);
    }
    return { head, segments };
  }

  /** Returns a chain to the driver with the number of bytes written, and interrupts. */
  push(head: number, written: number): void {
    const idx = this.dma.read16(this.used + 2);
    const e = this.used + 4 + 8 * (idx % this.num);
    this.dma.write32(e, head);
    this.dma.write32(e + 4, written);
    this.dma.write16(this.used + 2, (idx + 1) & 0xffff);
    this.interrupt();
  }
}

export interface VirtioMmioOptions {
  dma: DmaSpace;
  irq: IrqLine;
  /** Version 1 (legacy) as QEMU 7.2 by default, or 2 (virtio 1.0+). */
  legacy?: boolean;
}

export class VirtioMmio implements MmioDevice {
  private backend: VirtioBackend | null = null;
  private queues: Virtqueue[] = [];
  private status = 0;
  private isr = 0;
  private queueSel = 0;
  private featuresSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private pageSize = 4096;
  private readonly legacy: boolean;

  constructor(private readonly o: VirtioMmioOptions) {
    this.legacy = o.legacy ?? true;
  }

  /** Plugs a device into the transport (before the guest starts). */
  attach(backend: VirtioBackend): void {
    this.backend = backend;
    this.queues = Array.from(
      { length: backend.queues },
      (_, i) => new Virtqueue(i, this.o.dma, () => this.raise(1)),
    );
  }

  private deviceFeatures(): bigint {
    const f = this.backend!.features | VIRTIO_F_INDIRECT_DESC;
    return this.legacy ? f & 0xffff_ffffn : f | VIRTIO_F_VERSION_1;
  }

  private raise(bit: number): void {
    this.isr |= bit;
    this.o.irq.set(true);
  }

  reset(): void {
    this.status = 0;
    this.isr = 0;
    this.queueSel = 0;
    this.featuresSel = this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.pageSize = 4096;
    for (const q of this.queues) q.reset();
    this.backend?.reset();
    this.o.irq.set(false);
  }

  private get queue(): Virtqueue | undefined {
    return this.queues[this.queueSel];
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset === 0x000) return 0x74726976;
    if (offset === 0x004) return this.legacy ? 1 : 2;
    if (offset === 0x008) return this.backend?.deviceId ?? 0;
    if (offset === 0x00c) return 0x554d4551;
    const b = this.backend;
    if (b === null) return 0;
    if (offset >= 0x100) return b.readConfig(offset - 0x100, size);
    const q = this.queue;
    switch (offset) {
      case 0x010: {
        const f = this.deviceFeatures();
        return this.featuresSel === 0
          ? Number(f & 0xffff_ffffn)
          : this.featuresSel === 1
            ? Number(f >> 32n)
            : 0;
      }
      case 0x034:
        return q === undefined ? 0 : b.queueMax;
      case 0x040:
        return this.legacy && q !== undefined ? q.pfn : 0;
      case 0x044:
        return !this.legacy && q?.ready ? 1 : 0;
      case 0x060:
        return this.isr;
      case 0x070:
        return this.status;
      case 0x0fc:
        return 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    const b = this.backend;
    if (b === null) return;
    if (offset >= 0x100) {
      b.writeConfig(offset - 0x100, size, value);
      return;
    }
    const q = this.queue;
    const v = value >>> 0;
    switch (offset) {
      case 0x014:
        this.featuresSel = v;
        break;
      case 0x020: {
        const shift = BigInt(32 * this.driverFeaturesSel);
        if (this.driverFeaturesSel < 2) {
          this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
        }
        break;
      }
      case 0x024:
        this.driverFeaturesSel = v;
        break;
      case 0x028:
        if (this.legacy) this.pageSize = v;
        break;
      case 0x030:
        this.queueSel = v;
        break;
      case 0x038:
        if (q) q.num = Math.min(v, b.queueMax);
        break;
      case 0x03c:
        if (q && this.legacy) q.align = v;
        break;
      case 0x040:
        if (q && this.legacy) {
          q.pfn = v;
          if (v === 0) q.reset();
          else q.setLegacyLayout(this.pageSize);
        }
        break;
      case 0x044:
        if (q && !this.legacy) {
          q.ready = (v & 1) === 1;
          if (q.ready) q.lastAvail = 0;
        }
        break;
      case 0x050:
        this.notify(v);
        break;
      case 0x064:
        this.isr &= ~v;
        if (this.isr === 0) this.o.irq.set(false);
        break;
      case 0x070:
        if (v === 0) this.reset();
        else this.status = v & 0xff;
        break;
      case 0x080:
        if (q) q.desc = q.desc - (q.desc % 2 ** 32) + v;
        break;
      case 0x084:
        if (q) q.desc = v * 2 ** 32 + (q.desc % 2 ** 32);
        break;
      case 0x090:
        if (q) q.avail = q.avail - (q.avail % 2 ** 32) + v;
        break;
      case 0x094:
        if (q) q.avail = v * 2 ** 32 + (q.avail % 2 ** 32);
        break;
      case 0x0a0:
        if (q) q.used = q.used - (q.used % 2 ** 32) + v;
        break;
      case 0x0a4:
        if (q) q.used = v * 2 ** 32 + (q.used % 2 ** 32);
        break;
      default:
        break;
    }
  }

  private notify(index: number): void {
    const q = this.queues[index];
    if (q === undefined || !q.ready) return;
    try {
      this.backend!.notify(q);
    } catch (err) {
      if (!(err instanceof DmaError)) throw err;
      // A ring in memory nothing answers: the device needs a reset (virtio 1.1 2.1.2).
      this.status |= STATUS_NEEDS_RESET;
      this.raise(2);
    }
  }
}
