/**
 * System-mode CPU: exception entry and return, stage-1 walks for each granule, permission faults,
 * TLB maintenance, AT, WFI and interrupts, the generic timer and the GIC CPU interface seam.
 * Guest code is assembled with the cross toolchain; page tables are built from the test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cpu, PagedMemory, type IccRegister } from '../src';
import { Abort } from '../src/cpu/exceptions';
import { ACC_R, ACC_W, ACC_X } from '../src/cpu/mmu';
import { assemble, ManualClock, msr, mrs, RAM, runToHalt, system, Tables } from './system-support';

const OFF = 'ldr x0, =0x84000008\n hvc #0';
const NORMAL = 0x400 | 0x300; // AF, inner shareable, AttrIndx 0
const SCTLR_M = 0x30d00801n;

/** Identity-maps the first 2 MiB of RAM (code, tables) with a 4K-granule block and turns the MMU on. */
function mmuOn(cpu: Cpu, bus: PagedMemory): Tables {
  const t = new Tables(bus, 12, 48, RAM + 0x100000);
  t.map(RAM, RAM, NORMAL, 2);
  msr(cpu, 'MAIR_EL1', 0xffn);
  msr(cpu, 'TCR_EL1', t.tcr0());
  msr(cpu, 'TTBR0_EL1', BigInt(t.root));
  msr(cpu, 'SCTLR_EL1', SCTLR_M);
  return t;
}

function abortOf(f: () => unknown): Abort {
  try {
    f();
  } catch (e) {
    if (e instanceof Abort) return e;
    throw e;
  }
  assert.fail('no abort');
}

test('SVC from EL0: vector +0x400, ESR/ELR/SPSR, banked SP_EL0/SP_EL1, ERET back to EL0', () => {
  const { cpu } = system(
    assemble(`
      ldr x0, =vectors
      msr vbar_el1, x0
      ldr x0, =0x40100000
      mov sp, x0
      ldr x0, =0x40200000
      msr sp_el0, x0
      ldr x0, =user
      msr elr_el1, x0
      msr spsr_el1, xzr
      eret
    user:
      mov x5, sp
      svc #0x42
      mov x6, #1
      svc #0x43
    stuck:
      b stuck
    .balign 2048
    vectors:
      .org vectors + 0x400
      mrs x1, esr_el1
      mrs x2, elr_el1
      mrs x3, spsr_el1
      mov x4, sp
      and x7, x1, #0xffff
      cmp x7, #0x43
      b.eq off
      eret
    off:
      ${OFF}
    `),
  );
  runToHalt(cpu);
  assert.equal(cpu.getX(1), 0x56000043n, 'ESR: EC 0x15, IL, imm16');
  assert.equal(cpu.getX(5), 0x40200000n, 'EL0 runs on SP_EL0');
  assert.equal(cpu.getX(4), 0x40100000n, 'the handler runs on SP_EL1');
  assert.equal(cpu.getX(6), 1n, 'ERET resumed EL0 after the first SVC');
  assert.equal(cpu.getX(3), 0n, 'SPSR: EL0t, flags clear');
  assert.equal(cpu.el, 1);
  const stuck = cpu.getX(2);
  assert.equal(stuck & 0xfffn, 0x38n, 'ELR: the instruction after the SVC');
});

test('data abort at EL1 with the MMU on: vector +0x200, ESR translation fault level 1, FAR, ELR', () => {
  const { cpu, bus } = system(
    assemble(`
      ldr x0, =vectors
      msr vbar_el1, x0
      isb
      ldr x0, =0x12345678
      ldr x1, [x0]
    .balign 2048
    vectors:
      .org vectors + 0x200
      mrs x1, esr_el1
      mrs x2, far_el1
      mrs x3, elr_el1
      ${OFF}
    `),
  );
  mmuOn(cpu, bus);
  runToHalt(cpu);
  assert.equal(cpu.getX(1), 0x96000005n);
  assert.equal(cpu.getX(2), 0x12345678n);
  assert.equal(cpu.getX(3), BigInt(RAM + 16));
});

for (const g of [12, 14, 16]) {
  test(`${2 ** (g - 10)}K granule: TTBR0 page and block, TTBR1 page, faults at the right level`, () => {
    const bus = new PagedMemory();
    bus.mapRam(RAM, 64 << 20);
    const cpu = Cpu.system(bus, { clock: new ManualClock(), timerIrq: () => undefined });
    const t0 = new Tables(bus, g, 48, RAM + 0x100000);
    const t1 = new Tables(bus, g, 48, RAM + 0x800000);
    const va = 0x1234_5678_0000;
    const pa = RAM + 0x200000;
    t0.map(va, pa, NORMAL);
    bus.w32(pa + 0xabc, 0xc0ffee);
    // A level-2 block: 2 MiB (4K), 32 MiB (16K), 512 MiB (64K).
    const blockShift = g + (g - 3);
    const blockVa = 2 ** 40;
    t0.map(blockVa, RAM, NORMAL, 2);
    bus.w32(RAM + 0x10, 0xb10c);
    t1.map(0x8000_4000_0000, pa, NORMAL);
    msr(cpu, 'TCR_EL1', t0.tcr0() | t1.tcr1());
    msr(cpu, 'TTBR0_EL1', BigInt(t0.root));
    msr(cpu, 'TTBR1_EL1', BigInt(t1.root));
    msr(cpu, 'SCTLR_EL1', SCTLR_M);
    const hi = Math.floor(va / 2 ** 32);
    assert.equal(cpu.ld32((va % 2 ** 32) + 0xabc, hi), 0xc0ffee);
    assert.equal(cpu.ld32(0x40000abc, 0xffff8000), 0xc0ffee, 'TTBR1 half');
    bus.w32(RAM + 0x3010, 0xb10c2);
    assert.equal(cpu.ld32(0x10, blockVa / 2 ** 32), 0xb10c, 'block');
    assert.equal(cpu.ld32(0x3010, blockVa / 2 ** 32), 0xb10c2, 'block, another 4 KiB page');
    assert.equal(blockShift, { 12: 21, 14: 25, 16: 29 }[g]);
    const next = va + 2 ** g;
    const a = abortOf(() => cpu.ld32(next % 2 ** 32, Math.floor(next / 2 ** 32)));
    assert.equal(a.fsc, 0x07, 'translation fault, level 3');
    const noncanonical = abortOf(() => cpu.ld32(0, 0x00010000));
    assert.equal(noncanonical.fsc, 0x04, 'outside both ranges: translation fault level 0');
  });
}

test('permission and access-flag faults carry the fault status and level', () => {
  const bus = new PagedMemory();
  bus.mapRam(RAM, 64 << 20);
  const cpu = Cpu.system(bus, { clock: new ManualClock(), timerIrq: () => undefined });
  const t = new Tables(bus, 12, 48, RAM + 0x100000);
  const page = (k: number) => 0x1000_0000 + k * 0x1000;
  t.map(page(0), RAM, NORMAL | 0x80); // EL1 read-only
  t.map(page(1), RAM, NORMAL); // EL1 read/write, no EL0 access
  t.map(page(2), RAM, NORMAL | 0x40, 3, 1 << 22); // EL0 read/write, UXN
  t.map(page(3), RAM, 0x300); // AF clear
  t.map(page(4), RAM, NORMAL | 0xc0); // read-only at EL0 and EL1
  msr(cpu, 'TCR_EL1', t.tcr0());
  msr(cpu, 'TTBR0_EL1', BigInt(t.root));
  msr(cpu, 'SCTLR_EL1', SCTLR_M);
  assert.equal(cpu.ld32(page(0), 0), 0);
  const ro = abortOf(() => cpu.st32(page(0), 0, 1));
  assert.deepEqual([ro.fsc, ro.access], [0x0f, ACC_W]);
  assert.equal(abortOf(() => cpu.translate(page(2), 0, ACC_X)).fsc, 0x0f, 'EL1 never executes EL0-writable');
  assert.equal(cpu.translate(page(1), 0, ACC_X), RAM);
  assert.equal(abortOf(() => cpu.ld32(page(3), 0)).fsc, 0x0b, 'access flag fault, level 3');
  cpu.setPstate(0, 0);
  assert.equal(abortOf(() => cpu.ld32(page(1), 0)).fsc, 0x0f, 'EL0 read of an EL1 page');
  assert.equal(cpu.ld32(page(2), 0), 0);
  cpu.st32(page(2), 0, 5);
  assert.equal(abortOf(() => cpu.translate(page(2), 0, ACC_X)).fsc, 0x0f, 'UXN');
  assert.equal(cpu.translate(page(4), 0, ACC_R), RAM);
  assert.equal(abortOf(() => cpu.st8(page(4), 0, 1)).fsc, 0x0f);
  assert.equal(abortOf(() => cpu.ld32(page(0), 0)).fsc, 0x0f, 'EL0 read of an EL1 read-only page');
});

test('TLBI: a changed entry is seen after TLBI VAE1 (also for a block via any address in it), VMALLE1 and an ASID change', () => {
  const { cpu, bus } = system(
    assemble(`
      tlbi vae1, x0
      dsb sy
      ${OFF}
    `),
  );
  const t = mmuOn(cpu, bus);
  const va = 0x2000_0000;
  const pte = t.map(va, RAM + 0x300000, NORMAL);
  bus.w32(RAM + 0x300000, 1);
  bus.w32(RAM + 0x301000, 2);
  assert.equal(cpu.ld32(va, 0), 1);
  bus.w32(pte, (RAM + 0x301000) | NORMAL | 3);
  assert.equal(cpu.ld32(va, 0), 1, 'the TLB holds the old translation until TLBI');
  cpu.setX(0, BigInt(va >>> 12));
  runToHalt(cpu);
  assert.equal(cpu.ld32(va, 0), 2);

  // A 2 MiB block, used at +0x3000, invalidated by its base address.
  const blk = 0x2020_0000;
  const bpte = t.map(blk, RAM + 0x400000, NORMAL, 2);
  bus.w32(RAM + 0x403000, 3);
  bus.w32(RAM + 0x603000, 4);
  assert.equal(cpu.ld32(blk + 0x3000, 0), 3);
  bus.w32(bpte, (RAM + 0x600000) | NORMAL | 1);
  cpu.halted = false;
  cpu.pc = BigInt(RAM);
  cpu.setX(0, BigInt(blk >>> 12));
  runToHalt(cpu);
  assert.equal(cpu.ld32(blk + 0x3000, 0), 4);

  // VMALLE1 (the same program with the operation patched).
  assert.equal(cpu.ld32(va, 0), 2);
  bus.w32(pte, (RAM + 0x300000) | NORMAL | 3);
  assert.equal(cpu.ld32(va, 0), 2);
  bus.w32(RAM, 0xd508871f); // tlbi vmalle1
  cpu.invalidateCode();
  cpu.halted = false;
  cpu.pc = BigInt(RAM);
  runToHalt(cpu);
  assert.equal(cpu.ld32(va, 0), 1);

  // A new ASID in TTBR0 flushes (entries carry no ASID).
  bus.w32(pte, (RAM + 0x301000) | NORMAL | 3);
  assert.equal(cpu.ld32(va, 0), 1);
  msr(cpu, 'TTBR0_EL1', (5n << 48n) | BigInt(t.root));
  assert.equal(cpu.ld32(va, 0), 2);
});

test('AT S1E1R/S1E0W write PAR_EL1: PA and attributes, or the fault', () => {
  const { cpu, bus } = system(
    assemble(`
      at s1e1r, x0
      mrs x1, par_el1
      at s1e0w, x0
      mrs x2, par_el1
      at s1e1r, x3
      mrs x4, par_el1
      ${OFF}
    `),
  );
  const t = mmuOn(cpu, bus);
  msr(cpu, 'MAIR_EL1', 0x04ffn);
  t.map(0x3000_0000, RAM + 0x5000, NORMAL | 0x4); // AttrIndx 1 (device nGnRE 0x04)
  cpu.setX(0, 0x3000_0123n);
  cpu.setX(3, 0x3000_1000n);
  runToHalt(cpu);
  assert.equal(cpu.getX(1), (0x04n << 56n) | BigInt(RAM + 0x5000) | (3n << 7n));
  assert.equal(cpu.getX(2), 1n | (0x0fn << 1n), 'EL0 write to an EL1 page: permission fault level 3');
  assert.equal(cpu.getX(4), 1n | (0x07n << 1n), 'unmapped: translation fault level 3');
});

test('WFI waits until the IRQ line rises; masked it resumes after WFI, unmasked it is taken (+0x280)', () => {
  const { cpu } = system(
    assemble(`
      ldr x0, =vectors
      msr vbar_el1, x0
      wfi
      mov x1, #1
      msr daifclr, #2
      nop
    .balign 2048
    vectors:
      .org vectors + 0x280
      mov x2, #2
      mrs x3, elr_el1
      ${OFF}
    `),
  );
  cpu.run(100);
  assert.equal(cpu.waiting, true);
  assert.equal(cpu.run(100), 0, 'a waiting PE runs nothing');
  assert.equal(cpu.getX(1), 0n);
  cpu.irq.set(true);
  assert.equal(cpu.waiting, false);
  runToHalt(cpu);
  assert.equal(cpu.getX(1), 1n);
  assert.equal(cpu.getX(2), 2n);
  assert.equal(cpu.getX(3), BigInt(RAM + 20), 'ELR: the instruction after MSR DAIFClr');
});

test('generic timer: counter from the clock, CVAL/TVAL, ISTATUS, IMASK, output level through the callback', () => {
  const { cpu, clock, timerLevels } = system(new Uint8Array(4));
  msr(cpu, 'CNTV_CVAL_EL0', 1000n);
  msr(cpu, 'CNTV_CTL_EL0', 1n);
  assert.deepEqual(timerLevels, []);
  clock.advance(1000 * 16 - 1);
  assert.deepEqual(timerLevels, []);
  assert.equal(mrs(cpu, 'CNTV_TVAL_EL0'), 1n);
  clock.advance(1000 * 16);
  assert.deepEqual(timerLevels, [['virt', true]]);
  assert.equal(mrs(cpu, 'CNTVCT_EL0'), 1000n);
  assert.equal(mrs(cpu, 'CNTV_CTL_EL0'), 5n, 'ENABLE and ISTATUS');
  msr(cpu, 'CNTV_CTL_EL0', 3n);
  assert.deepEqual(timerLevels.at(-1), ['virt', false], 'IMASK drops the output');
  msr(cpu, 'CNTP_TVAL_EL0', 100n);
  msr(cpu, 'CNTP_CTL_EL0', 1n);
  assert.equal(mrs(cpu, 'CNTP_CVAL_EL0'), 1100n);
  assert.equal(clock.next(), 1100 * 16);
  clock.advance(clock.next());
  assert.deepEqual(timerLevels.at(-1), ['phys', true]);
  assert.equal(mrs(cpu, 'CNTFRQ_EL0'), 62_500_000n);
});

test('ICC_* system registers go to the GIC interface; without one they are UNDEFINED and PFR0.GIC is 0', () => {
  const src = `
      ldr x0, =vectors
      msr vbar_el1, x0
      mrs x1, id_aa64pfr0_el1
      mrs x2, icc_iar1_el1
      msr icc_eoir1_el1, x2
      ${OFF}
    .balign 2048
    vectors:
      .org vectors + 0x200
      mrs x3, esr_el1
      ${OFF}
  `;
  const calls: string[] = [];
  const gic = {
    read: (r: IccRegister) => (calls.push(`read ${r}`), 27n),
    write: (r: IccRegister, v: bigint) => void calls.push(`write ${r} ${v}`),
  };
  const with3 = system(assemble(src), { icc: gic }).cpu;
  runToHalt(with3);
  assert.equal((with3.getX(1) >> 24n) & 0xfn, 1n);
  assert.deepEqual(calls, ['read IAR1', 'write EOIR1 27']);
  const without = system(assemble(src)).cpu;
  runToHalt(without);
  assert.equal((without.getX(1) >> 24n) & 0xfn, 0n);
  assert.equal(without.getX(3) >> 26n, 0n, 'EC 0: unknown reason');
});

test('LDTR/STTR at EL1 use EL0 permissions; an EL0-accessible page is reachable, an EL1-only one aborts', () => {
  const { cpu, bus } = system(
    assemble(`
      ldr x0, =vectors
      msr vbar_el1, x0
      ldtr x1, [x2]
      sttr x1, [x2, #8]
      ldtr x3, [x4]
      mov x9, #1
    .balign 2048
    vectors:
      .org vectors + 0x200
      mrs x5, esr_el1
      mrs x6, far_el1
      ${OFF}
    `),
  );
  const t = mmuOn(cpu, bus);
  t.map(0x5000_0000, RAM + 0x300000, NORMAL | 0x40); // EL0 read/write
  t.map(0x5000_1000, RAM + 0x301000, NORMAL); // EL1 only
  bus.w32(RAM + 0x300000, 0x1234);
  cpu.setX(2, 0x5000_0000n);
  cpu.setX(4, 0x5000_1000n);
  runToHalt(cpu);
  assert.equal(bus.r32(RAM + 0x300008), 0x1234, 'STTR wrote through the EL0 mapping');
  assert.equal(cpu.getX(9), 0n, 'the LDTR of the EL1-only page did not complete');
  assert.equal(cpu.getX(5), 0x9600000fn, 'data abort, same EL, permission fault level 3');
  assert.equal(cpu.getX(6), 0x5000_1000n);
  assert.equal(cpu.el, 1);
});

test('IC IVAU drops decoded code of the page, seen through another virtual alias', () => {
  const { cpu, bus } = system(
    assemble(`
    again:
      bl patched
      mov x10, x0
      cbnz x7, done
      mov x7, #1
      str w5, [x6]
      dc cvau, x6
      dsb ish
      ic ivau, x8
      dsb ish
      isb
      b again
    done:
      ${OFF}
    .balign 4096
    patched:
      mov x0, #1
      ret
    `),
  );
  const t = mmuOn(cpu, bus);
  // The code page also mapped (writable) at 0x6000_0000; IC IVAU is issued by the code address.
  const patched = RAM + 0x1000;
  t.map(0x6000_0000, patched, NORMAL);
  cpu.setX(5, 0xd2800040n); // mov x0, #2
  cpu.setX(6, 0x6000_0000n);
  cpu.setX(8, BigInt(patched));
  runToHalt(cpu);
  assert.equal(cpu.getX(10), 2n, 'the second call ran the new instruction');
});

test('WFE consumes the event register (SEVL), then waits; an IRQ input wakes it', () => {
  const { cpu } = system(
    assemble(`
      sevl
      wfe
      mov x1, #1
      wfe
      mov x2, #2
      ${OFF}
    `),
  );
  cpu.run(100);
  assert.equal(cpu.getX(1), 1n, 'the first WFE returned at once');
  assert.equal(cpu.waiting, true);
  assert.equal(cpu.getX(2), 0n);
  cpu.irq.set(true);
  runToHalt(cpu);
  assert.equal(cpu.getX(2), 2n);
});
