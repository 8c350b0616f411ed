/** GICv2 and GICv3 register behaviour as the architecture specifications (IHI 0048B, IHI 0069) describe it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GicV2 } from '../src/devices/gic-v2';
import { GicV2m } from '../src/devices/gic-v2m';
import { GicV3 } from '../src/devices/gic-v3';

class Wire {
  level = false;
  set(l: boolean) {
    this.level = l;
  }
}

test('GICv2: SPI delivery by target, IAR/EOIR, priority mask, level re-pending', () => {
  const irq = new Wire();
  const fiq = new Wire();
  const g = new GicV2({ irqs: 288, outputs: [{ irq, fiq }] });
  const d = g.distributor;
  const cpu = g.cpuInterface;
  assert.equal(d.read(0x004, 4) & 0x1f, 8, 'ITLinesNumber: 288 interrupts');
  assert.equal(d.read(0x100, 4), 0xffff, 'SGIs always enabled');
  const uart = g.line(33);
  d.write(0x000, 4, 1);
  cpu.write(0x00, 4, 1);
  cpu.write(0x04, 4, 0xf0);
  d.write(0x104, 4, 1 << 1);
  d.write(0x420, 4, 0xa0a0a0a0);
  uart.set(true);
  assert.equal(irq.level, false, 'ITARGETSR empty: not delivered');
  d.write(0x820, 4, 0x01010101);
  assert.equal(irq.level, true);
  assert.equal(d.read(0x204, 4) & 2, 2, 'pending');
  assert.equal(cpu.read(0x0c, 4), 33, 'IAR');
  assert.equal(irq.level, false, 'active: no longer signalled');
  assert.equal(cpu.read(0x14, 4), 0xa0, 'running priority');
  assert.equal(cpu.read(0x0c, 4), 1023, 'nothing else pending: spurious');
  cpu.write(0x10, 4, 33);
  assert.equal(irq.level, true, 'line still high: pending again after EOI');
  uart.set(false);
  assert.equal(irq.level, false);
  cpu.write(0x04, 4, 0xa0);
  uart.set(true);
  assert.equal(irq.level, false, 'priority not below PMR');
  // SGI 3 to self through GICD_SGIR (filter 2: this PE only).
  cpu.write(0x04, 4, 0xff);
  uart.set(false);
  d.write(0xf00, 4, (2 << 24) | 3);
  assert.equal(cpu.read(0x0c, 4), 3);
  cpu.write(0x10, 4, 3);
  assert.equal(d.read(0x300, 4), 0, 'nothing active');
});

test('GICv2: preemption by a higher-priority interrupt follows the binary point', () => {
  const irq = new Wire();
  const g = new GicV2({ irqs: 64, outputs: [{ irq, fiq: new Wire() }] });
  const d = g.distributor;
  const cpu = g.cpuInterface;
  d.write(0x000, 4, 1);
  cpu.write(0x00, 4, 1);
  cpu.write(0x04, 4, 0xff);
  d.write(0x104, 4, 0b11);
  d.write(0x820, 2, 0x0101);
  d.write(0x420, 2, 0x40_80);
  g.line(32).set(true);
  assert.equal(cpu.read(0x0c, 4), 32);
  g.line(33).set(true);
  assert.equal(irq.level, true, '0x40 preempts 0x80 with BPR 0');
  cpu.write(0x08, 4, 7);
  assert.equal(irq.level, false, 'BPR 7: no preemption');
});

test('GICv3: redistributor discovery, group 1 via ICC_IAR1, PPI timer, SGI1R, DS=1', () => {
  const irq = new Wire();
  const fiq = new Wire();
  const g = new GicV3({ irqs: 288, outputs: [{ irq, fiq }] });
  const d = g.distributor;
  const r = g.redistributors;
  const icc = g.icc(0);
  assert.equal(d.read(0x0000, 4) & 0x50, 0x50, 'ARE and DS');
  assert.equal(d.read(0xffe8, 4) >> 4, 3, 'ArchRev 3');
  assert.equal(r.read(0xffe8, 4) >> 4, 3, 'redistributor ArchRev 3');
  assert.equal(r.read(0x0008, 4) & 0x10, 0x10, 'the only redistributor is Last');
  assert.equal(r.read(0x0014, 4) & 6, 6, 'asleep after reset');
  r.write(0x0014, 4, 0);
  assert.equal(r.read(0x0014, 4) & 4, 0, 'ChildrenAsleep follows ProcessorSleep');
  assert.equal(icc.read('SRE') & 1n, 1n);
  assert.equal((icc.read('CTLR') >> 8n) & 7n, 4n, 'five priority bits');
  // Linux's set-up: everything group 1, distributor Grp1 enabled, PMR 0xf0, IGRPEN1.
  d.write(0x0000, 4, 0x2);
  r.write(0x10080, 4, 0xffffffff);
  d.write(0x0084, 4, 0xffffffff);
  icc.write('PMR', 0xf0n);
  icc.write('IGRPEN1', 1n);
  assert.equal(icc.read('PMR'), 0xf0n);
  icc.write('PMR', 0x0fn);
  assert.equal(icc.read('PMR'), 0x08n, 'PMR keeps the implemented bits');
  icc.write('PMR', 0xf0n);
  // The virtual timer's PPI 27.
  r.write(0x10400 + 24, 4, 0xa0a0a0a0);
  r.write(0x10100, 4, 1 << 27);
  g.line(27).set(true);
  assert.equal(irq.level, true, 'group 1 is IRQ');
  assert.equal(fiq.level, false);
  assert.equal(icc.read('HPPIR1'), 27n);
  assert.equal(icc.read('IAR0'), 1023n, 'group 0 acknowledge of a group 1 interrupt');
  assert.equal(icc.read('IAR1'), 27n);
  assert.equal(icc.read('RPR'), 0xa0n);
  g.line(27).set(false);
  icc.write('EOIR1', 27n);
  assert.equal(icc.read('RPR'), 0xffn);
  // SPI 40 routed to PE 0 (IROUTER reset value), level, group 1.
  d.write(0x0104, 4, 1 << 8);
  d.write(0x0428, 4, 0x80);
  g.line(40).set(true);
  assert.equal(icc.read('IAR1'), 40n);
  icc.write('EOIR1', 40n);
  g.line(40).set(false);
  // SGI 5 to self.
  r.write(0x10100, 4, 1 << 5);
  icc.write('SGI1R', (5n << 24n) | 1n);
  assert.equal(icc.read('IAR1'), 5n);
  icc.write('EOIR1', 5n);
  assert.equal(irq.level, false);
  // Group 0 interrupt goes out as FIQ once group 0 is enabled.
  r.write(0x10080, 4, 0xffffffff & ~(1 << 6));
  d.write(0x0000, 4, 0x3);
  icc.write('IGRPEN0', 1n);
  r.write(0x10100, 4, 1 << 6);
  icc.write('SGI0R', (6n << 24n) | 1n);
  assert.equal(fiq.level, true);
  assert.equal(icc.read('IAR0'), 6n);
});

test('GICv2m: MSI_TYPER names SPIs 80-143; MSI_SETSPI_NS makes an edge SPI pending', () => {
  const irq = new Wire();
  const g = new GicV2({ irqs: 288, outputs: [{ irq, fiq: new Wire() }] });
  const v2m = new GicV2m({ firstSpi: 48, spis: 64, line: (i) => g.line(i) });
  assert.equal(v2m.read(0x008, 4), (80 << 16) | 64);
  assert.equal(v2m.read(0xfcc, 4) >>> 20, 0x51, "QEMU's product ID");
  const d = g.distributor;
  d.write(0xc14, 4, 0x2 << 2); // INTID 81: edge
  v2m.write(0x040, 4, 81);
  assert.equal(d.read(0x208, 4) & (1 << 17), 1 << 17, 'INTID 81 pending');
  v2m.write(0x040, 4, 200);
  assert.equal(d.read(0x218, 4), 0, 'outside the frame: ignored');
});
