/**
 * The interrupt state the GICv2 and GICv3 front ends (gic-v2.ts, gic-v3.ts) share: per interrupt
 * its enable, pending latch, input level, active state, priority, group, trigger and routing, with
 * SGIs and PPIs (INTIDs 0-31) banked per processing element; per PE the CPU interface's priority
 * mask, binary points, group enables and the priorities of the interrupts it has acknowledged.
 * It computes each PE's highest-priority pending interrupt and drives the PE's IRQ and FIQ lines.
 */
import type { IrqLine } from './device';

export const SPURIOUS = 1023;
const IDLE_PRIORITY = 0x100;

export interface GicCoreOptions {
  /** Interrupt IDs implemented: 32 + a multiple of 32 (QEMU's virt: 288). */
  irqs: number;
  /** Per PE: the IRQ and FIQ inputs of the CPU. */
  outputs: { irq: IrqLine; fiq: IrqLine }[];
  /** GICv3 with DS=1: group 0 is signalled as FIQ. GICv2 without security extensions: all IRQ. */
  group0IsFiq: boolean;
  /** Priority bits the CPU interface implements (the low bits of PMR and priorities are RAZ). */
  priorityBits: number;
}

export class PeState {
  pmr = 0;
  bpr0 = 0;
  bpr1 = 0;
  /** GICv2 GICC_CTLR / GICv3 IGRPEN0 (bit 0) and IGRPEN1 (bit 1). */
  grpEnable = 0;
  eoiMode = 0;
  cbpr = 0;
  /** Interrupts acknowledged and not yet priority-dropped, with their priorities, oldest first. */
  readonly running: { intid: number; priority: number }[] = [];
  /** Raw active-priority register values as software last wrote them (GICv3 AP0Rn/AP1Rn). */
  readonly apr = [0, 0, 0, 0, 0, 0, 0, 0];
  /** The interrupt the last update found best, or SPURIOUS. */
  best = SPURIOUS;
  /** For an SGI: the PE that sent the pending one (GICv2 reports it in IAR). */
  readonly sgiSource = new Uint8Array(16);
  irqLevel = false;
  fiqLevel = false;
}

export class GicCore {
  readonly pes: PeState[];
  readonly nPe: number;
  /** GICD_CTLR: bit 0 EnableGrp0, bit 1 EnableGrp1. */
  distEnable = 0;
  /** State arrays: 32 banked entries per PE, then the SPIs. */
  readonly enabled: Uint8Array;
  readonly pendLatch: Uint8Array;
  readonly level: Uint8Array;
  readonly active: Uint8Array;
  readonly priority: Uint8Array;
  readonly group: Uint8Array;
  readonly edge: Uint8Array;
  /** GICv2 ITARGETSR per SPI (a CPU mask); GICv3 IROUTER (affinity, or -1 for any PE). */
  readonly target: Int32Array;
  readonly priorityMask: number;

  constructor(private readonly o: GicCoreOptions) {
    this.nPe = o.outputs.length;
    this.pes = o.outputs.map(() => new PeState());
    const n = 32 * this.nPe + (o.irqs - 32);
    this.enabled = new Uint8Array(n);
    this.pendLatch = new Uint8Array(n);
    this.level = new Uint8Array(n);
    this.active = new Uint8Array(n);
    this.priority = new Uint8Array(n);
    this.group = new Uint8Array(n);
    this.edge = new Uint8Array(n);
    this.target = new Int32Array(o.irqs);
    this.priorityMask = (0xff << (8 - o.priorityBits)) & 0xff;
    this.reset();
  }

  /** The smallest binary point the interface supports (QEMU: 7 - priority bits). */
  get minBpr(): number {
    return 7 - this.o.priorityBits;
  }

  get irqs(): number {
    return this.o.irqs;
  }

  reset(): void {
    for (const a of [this.enabled, this.pendLatch, this.active, this.priority, this.group, this.edge])
      a.fill(0);
    this.target.fill(0);
    this.distEnable = 0;
    for (let pe = 0; pe < this.nPe; pe++) {
      // SGIs are edge-triggered and always enabled in GICv2; PPIs' trigger is fixed by the machine (level).
      for (let i = 0; i < 16; i++) this.edge[this.idx(pe, i)] = 1;
      const s = this.pes[pe];
      s.pmr = 0;
      s.bpr0 = this.minBpr;
      s.bpr1 = s.bpr0 + 1;
      s.grpEnable = 0;
      s.eoiMode = 0;
      s.cbpr = 0;
      s.running.length = 0;
      s.apr.fill(0);
    }
    this.update();
  }

  /** Index into the state arrays of `intid` as PE `pe` sees it. */
  idx(pe: number, intid: number): number {
    return intid < 32 ? pe * 32 + intid : this.nPe * 32 + intid - 32;
  }

  /** The input wire of SPI or PPI `intid` (for PPIs, PE `pe`'s copy). */
  line(intid: number, pe = 0): IrqLine {
    return { set: (l: boolean) => this.setLevel(this.idx(pe, intid), l) };
  }

  setLevel(i: number, l: boolean): void {
    const v = l ? 1 : 0;
    if (this.level[i] === v) return;
    this.level[i] = v;
    if (v === 1 && this.edge[i] === 1) this.pendLatch[i] = 1;
    this.update();
  }

  pending(i: number): boolean {
    return this.pendLatch[i] === 1 || (this.edge[i] === 0 && this.level[i] === 1);
  }

  /** Sends SGI `intid` from PE `source` to PE `pe`. */
  sendSgi(pe: number, intid: number, source: number): void {
    this.pendLatch[this.idx(pe, intid)] = 1;
    this.pes[pe].sgiSource[intid] = source;
  }

  /** Whether SPI `intid` is delivered to PE `pe` (v2 target mask / v3 routing). */
  private routedTo(intid: number, pe: number, v3: boolean): boolean {
    const t = this.target[intid];
    return v3 ? t === -1 || t === pe : (t & (1 << pe)) !== 0;
  }

  v3Routing = false;

  /** Group priority of `prio` under the binary point of its group: the bits that decide preemption. */
  private groupPriority(s: PeState, prio: number, group: number): number {
    // GICv3 12.2.3: group 0 uses bits [7:BPR0+1]; group 1 bits [7:BPR1] (or BPR0's with CBPR).
    const shift = group === 0 || s.cbpr ? s.bpr0 + 1 : s.bpr1;
    return prio & ((0xff << shift) & 0xff);
  }

  runningPriority(pe: number): number {
    const r = this.pes[pe].running;
    let p = IDLE_PRIORITY;
    for (const e of r) if (e.priority < p) p = e.priority;
    return p;
  }

  /** Highest-priority pending, enabled, inactive interrupt for PE `pe` of an enabled group; SPURIOUS if none. */
  highestPending(pe: number): number {
    let best = SPURIOUS;
    let bestPrio = IDLE_PRIORITY;
    const s = this.pes[pe];
    const consider = (intid: number, i: number) => {
      if (this.enabled[i] === 0 || this.active[i] === 1 || !this.pending(i)) return;
      const g = this.group[i];
      if ((this.distEnable & (1 << g)) === 0 || (s.grpEnable & (1 << g)) === 0) return;
      const p = this.priority[i];
      if (p < bestPrio) {
        best = intid;
        bestPrio = p;
      }
    };
    for (let intid = 0; intid < 32; intid++) consider(intid, pe * 32 + intid);
    for (let intid = 32; intid < this.o.irqs; intid++) {
      if (this.routedTo(intid, pe, this.v3Routing)) consider(intid, this.idx(pe, intid));
    }
    return best;
  }

  /** Recomputes every PE's best pending interrupt and its IRQ/FIQ outputs. */
  update(): void {
    for (let pe = 0; pe < this.nPe; pe++) {
      const s = this.pes[pe];
      const best = this.highestPending(pe);
      s.best = best;
      let irq = false;
      let fiq = false;
      if (best !== SPURIOUS) {
        const i = this.idx(pe, best);
        const prio = this.priority[i];
        const g = this.group[i];
        const rp = this.runningPriority(pe);
        const preempts =
          rp === IDLE_PRIORITY || this.groupPriority(s, prio, g) < this.groupPriority(s, rp, g);
        if (prio < s.pmr && preempts) {
          if (g === 0 && this.o.group0IsFiq) fiq = true;
          else irq = true;
        }
      }
      if (irq !== s.irqLevel) {
        s.irqLevel = irq;
        this.o.outputs[pe].irq.set(irq);
      }
      if (fiq !== s.fiqLevel) {
        s.fiqLevel = fiq;
        this.o.outputs[pe].fiq.set(fiq);
      }
    }
  }

  /**
   * Acknowledges PE `pe`'s highest pending interrupt of a group in `groups` (bit mask): it becomes
   * active and its priority running. Returns its INTID or SPURIOUS (1022 when the best is of the
   * other group, as GICv3 IAR0 does).
   */
  acknowledge(pe: number, groups: number): number {
    const best = this.highestPending(pe);
    if (best === SPURIOUS) return SPURIOUS;
    const i = this.idx(pe, best);
    if ((groups & (1 << this.group[i])) === 0) return 1022;
    const s = this.pes[pe];
    if (this.priority[i] >= s.pmr) return SPURIOUS;
    this.pendLatch[i] = 0;
    this.active[i] = 1;
    s.running.push({ intid: best, priority: this.priority[i] });
    this.update();
    return best;
  }

  /** Priority drop (removes the interrupt's running priority); with `deactivate`, also ends its active state. */
  endOfInterrupt(pe: number, intid: number, deactivate: boolean): void {
    const r = this.pes[pe].running;
    for (let k = r.length - 1; k >= 0; k--) {
      if (r[k].intid === intid) {
        r.splice(k, 1);
        break;
      }
    }
    if (deactivate) this.deactivate(pe, intid);
    this.update();
  }

  deactivate(pe: number, intid: number): void {
    if (intid >= this.o.irqs) return;
    this.active[this.idx(pe, intid)] = 0;
    this.update();
  }

  /** A 32-interrupt bit register (enable, pending, active, group) of interrupts base..base+31. */
  readBits(pe: number, base: number, what: 'enabled' | 'pending' | 'active' | 'group' | 'level'): number {
    let v = 0;
    for (let b = 0; b < 32; b++) {
      const intid = base + b;
      if (intid >= this.o.irqs) break;
      const i = this.idx(pe, intid);
      const on = what === 'pending' ? this.pending(i) : this[what][i] === 1;
      if (on) v |= 1 << b;
    }
    return v >>> 0;
  }

  /** Set (value 1) or clear (value 0) the bits in `mask` of a bit register of base..base+31. */
  writeBits(
    pe: number,
    base: number,
    mask: number,
    what: 'enabled' | 'pendLatch' | 'active' | 'group',
    value: 0 | 1,
  ): void {
    for (let b = 0; b < 32; b++) {
      if ((mask & (1 << b)) === 0) continue;
      const intid = base + b;
      if (intid >= this.o.irqs) break;
      this[what][this.idx(pe, intid)] = value;
    }
    this.update();
  }

  /** Byte-per-interrupt priorities (bytes of IPRIORITYR), `size` bytes from interrupt `first`. */
  readPriority(pe: number, first: number, size: number): number {
    let v = 0;
    for (let b = 0; b < size; b++) {
      const intid = first + b;
      if (intid < this.o.irqs) v |= this.priority[this.idx(pe, intid)] << (8 * b);
    }
    return v >>> 0;
  }

  writePriority(pe: number, first: number, size: number, value: number): void {
    for (let b = 0; b < size; b++) {
      const intid = first + b;
      if (intid < this.o.irqs) this.priority[this.idx(pe, intid)] = (value >>> (8 * b)) & this.priorityMask;
    }
    this.update();
  }

  /** ICFGR: two bits per interrupt, bit 1 of each pair is edge-triggered; SGIs are fixed edge. */
  readConfig(pe: number, first: number): number {
    let v = 0;
    for (let k = 0; k < 16; k++) {
      const intid = first + k;
      if (intid < this.o.irqs && this.edge[this.idx(pe, intid)] === 1) v |= 2 << (2 * k);
    }
    return v >>> 0;
  }

  writeConfig(pe: number, first: number, value: number): void {
    for (let k = 0; k < 16; k++) {
      const intid = first + k;
      if (intid < 16 || intid >= this.o.irqs) continue;
      this.edge[this.idx(pe, intid)] = (value >>> (2 * k + 1)) & 1;
    }
    this.update();
  }
}
