/** Register behaviour of the simple virt devices, as their TRMs and QEMU's fw_cfg spec describe it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PagedMemory } from '../src/cpu/memory';
import { FwCfg, FW_CFG_KEY } from '../src/devices/fw-cfg';
import { Pflash } from '../src/devices/pflash';
import { Pl011 } from '../src/devices/pl011';
import { Pl031 } from '../src/devices/pl031';
import { Pl061 } from '../src/devices/pl061';
import { MachineClock } from '../src/machine/clock';

class Wire {
  level = false;
  set(l: boolean) {
    this.level = l;
  }
}

test('PL011: TX to the callback, TX interrupt, flags and PrimeCell IDs', () => {
  const irq = new Wire();
  const out: number[] = [];
  const u = new Pl011({ irq, onTx: (b) => out.push(b) });
  assert.equal(u.read(0x018, 4), 0x90, 'FR after reset: TXFE | RXFE');
  assert.equal(u.read(0x030, 4), 0x300, 'CR reset value');
  assert.equal(u.read(0x034, 4), 0x12, 'IFLS reset value');
  for (const c of 'ok') u.write(0x000, 4, c.charCodeAt(0));
  assert.deepEqual(out, [0x6f, 0x6b]);
  assert.equal(u.read(0x03c, 4) & 0x20, 0x20, 'TX raw interrupt');
  assert.equal(irq.level, false, 'masked');
  u.write(0x038, 4, 0x20);
  assert.equal(irq.level, true, 'unmasked TX interrupt');
  u.write(0x044, 4, 0x20);
  assert.equal(irq.level, false, 'cleared by ICR');
  const ids = [0xfe0, 0xfe4, 0xfe8, 0xfec, 0xff0, 0xff4, 0xff8, 0xffc].map((o) => u.read(o, 4));
  assert.deepEqual(ids, [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
});

test('PL011: RX FIFO of 16 with FEN, 1 without; RX interrupt while data is held', () => {
  const irq = new Wire();
  const u = new Pl011({ irq, onTx: () => undefined });
  u.write(0x038, 4, 0x10);
  u.input('ab');
  assert.equal(irq.level, true);
  assert.equal(u.read(0x018, 4) & 0x50, 0x40, 'FIFO disabled: one char fills it (RXFF, not RXFE)');
  assert.equal(u.read(0x000, 4), 0x61);
  assert.equal(u.read(0x000, 4), 0x62, 'the backlog refills the FIFO');
  assert.equal(irq.level, false, 'empty FIFO drops the RX interrupt');
  assert.equal(u.read(0x018, 4) & 0x10, 0x10, 'RXFE');
  u.write(0x02c, 4, 0x70);
  u.input('0123456789abcdefXY');
  assert.equal(u.read(0x018, 4) & 0x40, 0x40, 'sixteen entries: RXFF');
  let s = '';
  while ((u.read(0x018, 4) & 0x10) === 0) s += String.fromCharCode(u.read(0x000, 4));
  assert.equal(s, '0123456789abcdefXY');
});

test('PL031: counter runs with guest time, load, match interrupt', () => {
  const irq = new Wire();
  const clock = new MachineClock(() => 0);
  const r = new Pl031({ irq, clock, startSeconds: 1_700_000_000 });
  assert.equal(r.read(0x00, 4), 1_700_000_000);
  clock.skipTo(3e9);
  assert.equal(r.read(0x00, 4), 1_700_000_003);
  r.write(0x08, 4, 100);
  assert.equal(r.read(0x00, 4), 100);
  r.write(0x10, 4, 1);
  r.write(0x04, 4, 102);
  clock.skipTo(4e9);
  assert.equal(irq.level, false);
  clock.skipTo(5e9);
  assert.equal(r.read(0x14, 4), 1, 'RIS at the match');
  assert.equal(irq.level, true);
  r.write(0x1c, 4, 1);
  assert.equal(irq.level, false);
  assert.equal(r.read(0x0c, 4), 1, 'CR reads as started');
  assert.equal(r.read(0xfe0, 4), 0x31);
});

test('PL061: masked data access, edge interrupt on the power button line', () => {
  const irq = new Wire();
  const g = new Pl061(irq);
  g.write(0x400, 4, 0x01);
  g.write(0x3fc, 4, 0xff);
  assert.equal(g.read(0x3fc, 4), 0x01, 'only the output line reads back high');
  assert.equal(g.read(0x004, 4), 0x01, 'address bits [9:2] mask the read');
  g.write(0x40c, 4, 0x08);
  g.write(0x410, 4, 0x08);
  g.setInput(3, true);
  assert.equal(g.read(0x414, 4) & 0x08, 0x08, 'rising edge latched');
  assert.equal(irq.level, true);
  g.setInput(3, false);
  assert.equal(irq.level, true, 'an edge stays latched');
  g.write(0x41c, 4, 0x08);
  assert.equal(irq.level, false);
  assert.equal(g.read(0xfe0, 4), 0x61);
});

test('pflash: CFI query, IDs, buffered program, erase, status; the code bank refuses writes', () => {
  const data = new Uint8Array(1 << 20).fill(0xff);
  const changes: number[] = [];
  const f = new Pflash({ data, readOnly: false, persist: (o) => changes.push(o) });
  f.write(0x55 * 4, 4, 0x00980098);
  const q = [0x10, 0x11, 0x12].map((i) => f.read(i * 4, 4));
  assert.deepEqual(q, [0x00510051, 0x00520052, 0x00590059], '"QRY" in both lanes');
  assert.equal(f.read(0x27 * 4, 4) & 0xffff, 19, 'device size 2^19 per x16 device');
  assert.equal(f.read(0x2d * 4, 4) & 0xffff, 3, 'four 256 KiB blocks');
  f.write(0, 4, 0x00ff00ff);
  f.write(0, 4, 0x00900090);
  assert.equal(f.read(0, 4), 0x00890089);
  assert.equal(f.read(4, 4), 0x00180018);
  f.write(0, 4, 0x00ff00ff);
  // Buffered program of three words at 0x40000.
  f.write(0x40000, 4, 0x00e800e8);
  assert.equal(f.read(0x40000, 4) & 0x80, 0x80, 'buffer available');
  f.write(0x40000, 4, 0x00020002);
  f.write(0x40000, 4, 0x11111111);
  f.write(0x40004, 4, 0x22222222);
  f.write(0x40008, 4, 0x33333333);
  f.write(0x40000, 4, 0x00d000d0);
  assert.equal(f.read(0x40000, 4), 0x00800080, 'status: ready');
  f.write(0, 4, 0x00ff00ff);
  assert.equal(f.read(0x40004, 4), 0x22222222);
  assert.equal(f.read(0x4000c, 4), 0xffffffff);
  // Word program, then block erase of the block.
  f.write(0x40010, 4, 0x00400040);
  f.write(0x40010, 4, 0xabcd1234);
  f.write(0, 4, 0x00ff00ff);
  assert.equal(f.read(0x40010, 4), 0xabcd1234);
  f.write(0x40000, 4, 0x00200020);
  f.write(0x40000, 4, 0x00d000d0);
  f.write(0, 4, 0x00ff00ff);
  assert.equal(f.read(0x40004, 4), 0xffffffff);
  assert.equal(f.read(0x7fffc, 4), 0xffffffff);
  assert.ok(changes.includes(0x40000) && changes.includes(0x40010));
  const code = new Pflash({ data: new Uint8Array(1 << 20).fill(0x5a), readOnly: true });
  code.write(0, 4, 0x00400040);
  code.write(0, 4, 0);
  assert.equal(code.read(0, 4) & 0x10, 0x10, 'program error status');
  code.write(0, 4, 0x00500050);
  assert.equal(code.read(0, 4), 0x5a5a5a5a, 'contents unchanged; clear status returns to read array');
});

test('fw_cfg: signature and ID by the data register, file directory, DMA select+read', () => {
  const mem = new PagedMemory();
  mem.map(0x4000_0000, 0x10000);
  const dma = mem.dma();
  const fw = new FwCfg(dma);
  fw.addU16(FW_CFG_KEY.nbCpus, 1);
  fw.addFile('etc/boot-menu-wait', new Uint8Array([0, 0]));
  fw.addFile('bootorder', new TextEncoder().encode('/virtio-mmio@000000000a003e00\n\0'));
  const sel = (k: number) => fw.write(8, 2, ((k & 0xff) << 8) | (k >> 8));
  sel(FW_CFG_KEY.signature);
  assert.equal(fw.read(0, 4), 0x554d4551, '"QEMU" in memory order');
  sel(FW_CFG_KEY.id);
  assert.equal(fw.read(0, 1), 3, 'traditional + DMA');
  assert.equal(fw.read(16, 4), 0x554d4551, 'DMA register reads "QEMU CFG"');
  sel(FW_CFG_KEY.fileDir);
  const count = [0, 1, 2, 3].map(() => fw.read(0, 1));
  assert.deepEqual(count, [0, 0, 0, 2]);
  const entry = Array.from({ length: 64 }, () => fw.read(0, 1));
  assert.equal(String.fromCharCode(...entry.slice(8, 17)), 'bootorder', 'sorted by name');
  const key = (entry[4] << 8) | entry[5];
  assert.equal(key, 0x20);
  // DMA: control SELECT|READ with the key, 31 bytes to 0x40001000.
  const be = (v: number) => ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  mem.w32(0x4000_0000, be((key << 16) | 0x0a));
  mem.w32(0x4000_0004, be(31));
  mem.w32(0x4000_0008, 0);
  mem.w32(0x4000_000c, be(0x4000_1000));
  fw.write(16, 4, 0);
  fw.write(20, 4, be(0x4000_0000));
  assert.equal(mem.r32(0x4000_0000), 0, 'control cleared: done without error');
  assert.equal(new TextDecoder().decode(mem.readBytes(0x4000_1000, 29)), '/virtio-mmio@000000000a003e00');
  // DMA to an address nothing answers reports the error bit.
  mem.w32(0x4000_0000, be((key << 16) | 0x0a));
  mem.w32(0x4000_000c, be(0x2000_0000));
  fw.write(20, 4, be(0x4000_0000));
  assert.equal(be(mem.r32(0x4000_0000)) & 1, 1);
});
