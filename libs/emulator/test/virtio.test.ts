/** virtio-mmio (legacy and modern) with virtio-blk on a raw image behind a copy-on-write overlay. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PagedMemory } from '../src/cpu/memory';
import { VirtioBlk } from '../src/devices/virtio-blk';
import { VirtioMmio } from '../src/devices/virtio-mmio';
import { Psci, PSCI } from '../src/devices/psci';
import { RawFileBackend } from '../src/machine/block-file';

class Wire {
  level = false;
  set(l: boolean) {
    this.level = l;
  }
}

const RING = 0x4001_0000;
const HDR = 0x4002_0000;
const BUF = 0x4003_0000;
const STATUS = 0x4004_0000;
const NUM = 8;

function setup(legacy: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-virtio-'));
  const image = join(dir, 'disk.raw');
  const bytes = new Uint8Array(64 * 1024 * 4);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) & 0xff;
  writeFileSync(image, bytes);
  const mem = new PagedMemory();
  mem.map(0x4000_0000, 0x10_0000);
  const dma = mem.dma();
  const irq = new Wire();
  const t = new VirtioMmio({ dma, irq, legacy });
  const disk = new RawFileBackend(image, 'serial-42');
  t.attach(new VirtioBlk(disk, dma));
  // Driver initialisation: ACK, DRIVER, features, queue 0, DRIVER_OK.
  t.write(0x070, 4, 1);
  t.write(0x070, 4, 3);
  t.write(0x030, 4, 0);
  assert.equal(t.read(0x034, 4), 256, 'QueueNumMax');
  t.write(0x038, 4, NUM);
  const desc = RING;
  const avail = RING + 16 * NUM;
  const used = legacy ? RING + 4096 : RING + 0x800;
  if (legacy) {
    t.write(0x028, 4, 4096);
    t.write(0x03c, 4, 4096);
    t.write(0x040, 4, RING / 4096);
  } else {
    t.write(0x080, 4, desc);
    t.write(0x090, 4, avail);
    t.write(0x0a0, 4, used);
    t.write(0x044, 4, 1);
  }
  t.write(0x070, 4, 7);
  let next = 0;
  /** Submits header + one data buffer + status; returns the used length. */
  const request = (type: number, sector: number, len: number, dataWritable: boolean): number => {
    mem.w32(HDR, type);
    mem.w32(HDR + 4, 0);
    mem.w32(HDR + 8, sector);
    mem.w32(HDR + 12, 0);
    const d = (i: number, addr: number, l: number, flags: number, nxt: number) => {
      mem.w32(desc + 16 * i, addr);
      mem.w32(desc + 16 * i + 4, 0);
      mem.w32(desc + 16 * i + 8, l);
      mem.w16(desc + 16 * i + 12, flags);
      mem.w16(desc + 16 * i + 14, nxt);
    };
    d(0, HDR, 16, 1, 1);
    d(1, BUF, len, 1 | (dataWritable ? 2 : 0), 2);
    d(2, STATUS, 1, 2, 0);
    mem.w16(avail + 4 + 2 * (next % NUM), 0);
    next++;
    mem.w16(avail + 2, next);
    t.write(0x050, 4, 0);
    assert.equal(mem.r16(used + 2), next, 'used index advanced');
    return mem.r32(used + 4 + 8 * ((next - 1) % NUM) + 4);
  };
  return { dir, image, bytes, mem, t, irq, request, disk };
}

for (const legacy of [true, false]) {
  test(`virtio-mmio ${legacy ? 'v1 (legacy)' : 'v2'} + virtio-blk: identity, read, write to the overlay, GET_ID`, () => {
    const s = setup(legacy);
    try {
      const { t, mem, irq, request, bytes } = s;
      assert.equal(t.read(0x000, 4), 0x74726976);
      assert.equal(t.read(0x004, 4), legacy ? 1 : 2);
      assert.equal(t.read(0x008, 4), 2, 'block device');
      assert.equal(t.read(0x100, 4), bytes.length / 512, 'capacity in sectors');
      assert.equal(t.read(0x114, 4), 512, 'blk_size');
      assert.equal(request(0, 3, 1024, true), 1025);
      assert.equal(mem.r8(STATUS), 0);
      assert.deepEqual(mem.readBytes(BUF, 1024), bytes.subarray(1536, 2560));
      assert.equal(irq.level, true);
      assert.equal(t.read(0x060, 4), 1);
      t.write(0x064, 4, 1);
      assert.equal(irq.level, false);
      mem.fill(BUF, 512, 0xee);
      request(1, 200, 512, false);
      assert.equal(mem.r8(STATUS), 0);
      mem.fill(BUF, 512, 0);
      request(0, 200, 512, true);
      assert.equal(mem.r8(BUF + 511), 0xee, 'the write reads back');
      assert.deepEqual(new Uint8Array(readFileSync(s.image)), bytes, 'the image file is unchanged');
      request(8, 0, 20, true);
      assert.equal(new TextDecoder().decode(mem.readBytes(BUF, 9)), 'serial-42');
      request(0, bytes.length / 512, 512, true);
      assert.equal(mem.r8(STATUS), 1, 'read past the end: IOERR');
      t.write(0x070, 4, 0);
      assert.equal(t.read(0x070, 4), 0, 'reset');
    } finally {
      s.disk.close();
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
}

test('an empty virtio-mmio transport reports device ID 0', () => {
  const t = new VirtioMmio({ dma: new PagedMemory().dma(), irq: new Wire() });
  assert.equal(t.read(0x000, 4), 0x74726976);
  assert.equal(t.read(0x008, 4), 0);
  assert.equal(t.read(0x00c, 4), 0x554d4551);
});

test('PSCI 1.0 over HVC: version, features, CPU_ON of the only PE, SYSTEM_RESET/OFF', () => {
  const events: string[] = [];
  const psci = new Psci({
    conduit: 'hvc',
    systemOff: () => events.push('off'),
    systemReset: () => events.push('reset'),
  });
  const x = [0n, 0n, 0n, 0n];
  const regs = { getX: (n: number) => x[n], setX: (n: number, v: bigint) => (x[n] = v) };
  const call = (...args: number[]) => {
    args.forEach((a, i) => (x[i] = BigInt(a)));
    assert.ok(psci.call(regs, 'hvc', 0));
    return BigInt.asIntN(64, x[0]);
  };
  assert.equal(call(PSCI.VERSION), 0x10000n);
  assert.equal(call(PSCI.FEATURES, PSCI.SYSTEM_RESET), 0n);
  assert.equal(call(PSCI.FEATURES, 0x8000_0000), -1n, 'SMCCC_VERSION is not offered');
  assert.equal(call(0xc400_0003, 0, 0x4000_0000, 0), -4n, 'CPU_ON of PE 0: already on');
  assert.equal(call(0xc400_0003, 1, 0x4000_0000, 0), -2n, 'no PE 1');
  assert.equal(call(PSCI.MIGRATE_INFO_TYPE), 2n);
  call(PSCI.SYSTEM_RESET);
  call(PSCI.SYSTEM_OFF);
  assert.deepEqual(events, ['reset', 'off']);
  x[0] = BigInt(PSCI.VERSION);
  assert.equal(psci.call(regs, 'smc', 0), false, 'the other conduit is not PSCI');
  x[0] = 0x8600_0000n;
  assert.equal(psci.call(regs, 'hvc', 0), false, 'not a PSCI function');
});
