/**
 * A virtio block device (virtio 1.1 section 5.2) on a `BlockBackend`: read, write, flush and
 * GET_ID requests on one queue, the capacity, segment limit and block size in its configuration.
 */
import type { BlockBackend, DmaSpace } from './device';
import type { VirtioBackend, Virtqueue } from './virtio-mmio';

const T_IN = 0;
const T_OUT = 1;
const T_FLUSH = 4;
const T_GET_ID = 8;
const S_OK = 0;
const S_IOERR = 1;
const S_UNSUPP = 2;

const F_SEG_MAX = 1n << 2n;
const F_RO = 1n << 5n;
const F_BLK_SIZE = 1n << 6n;
const F_FLUSH = 1n << 9n;
const QUEUE_MAX = 256;
const SECTOR = 512;

export class VirtioBlk implements VirtioBackend {
  readonly deviceId = 2;
  readonly queueMax = QUEUE_MAX;
  readonly queues = 1;
  readonly features: bigint;
  private readonly config = new Uint8Array(0x3c);

  constructor(
    private readonly disk: BlockBackend,
    private readonly dma: DmaSpace,
  ) {
    this.features = F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (disk.readOnly ? F_RO : 0n);
    const dv = new DataView(this.config.buffer);
    dv.setBigUint64(0, BigInt(disk.sectors), true);
    dv.setUint32(12, QUEUE_MAX - 2, true); // seg_max: the queue size less header and status
    dv.setUint32(20, SECTOR, true);
  }

  readConfig(offset: number, size: number): number {
    if (offset + size > this.config.length) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[offset + i];
    return v >>> 0;
  }

  writeConfig(): void {
    // Nothing writable (no CONFIG_WCE offered).
  }

  reset(): void {
    // Requests complete synchronously: no state outlives a notify.
  }

  notify(q: Virtqueue): void {
    for (let req = q.pop(); req !== null; req = q.pop()) {
      const segs = req.segments;
      const header = segs[0];
      const status = segs[segs.length - 1];
      if (segs.length < 2 || header.write || header.len < 16 || !status.write || status.len < 1) {
        q.push(req.head, 0);
        continue;
      }
      const type = this.dma.read32(header.addr);
      const sector = this.dma.read64(header.addr + 8);
      const data = segs.slice(1, -1);
      let written = 0;
      let result = S_OK;
      try {
        if (type === T_IN) {
          let s = sector;
          for (const d of data) {
            if (!d.write || d.len % SECTOR !== 0 || s + d.len / SECTOR > this.disk.sectors)
              throw new RangeError('bad read');
            this.dma.write(d.addr, this.disk.read(s, d.len / SECTOR));
            s += d.len / SECTOR;
            written += d.len;
          }
        } else if (type === T_OUT) {
          if (this.disk.readOnly) throw new RangeError('read-only');
          let s = sector;
          for (const d of data) {
            if (d.write || d.len % SECTOR !== 0 || s + d.len / SECTOR > this.disk.sectors)
              throw new RangeError('bad write');
            this.disk.write(s, this.dma.read(d.addr, d.len));
            s += d.len / SECTOR;
          }
        } else if (type === T_FLUSH) {
          this.disk.flush();
        } else if (type === T_GET_ID) {
          const id = new TextEncoder().encode(this.disk.serial).subarray(0, 20);
          const d = data[0];
          if (d !== undefined && d.write) {
            const out = new Uint8Array(Math.min(20, d.len));
            out.set(id.subarray(0, out.length));
            this.dma.write(d.addr, out);
            written += out.length;
          }
        } else result = S_UNSUPP;
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        result = S_IOERR;
      }
      this.dma.write(status.addr, new Uint8Array([result]));
      q.push(req.head, written + 1);
    }
  }
}
