/**
 * test/baremetal/boot.S on the system-mode CPU: MMU on, an SVC from EL0, a virtual-timer IRQ taken
 * out of WFI through the GICv3 CPU interface, PSCI SYSTEM_OFF. Guest time is virtual: 1 ns per
 * instruction while running, and a waiting PE jumps to the next clock event.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { IccRegister } from '../src';
import { fixtures } from './fixtures';
import { system } from './system-support';

const UART = 0x0900_0000;
const VIRT_TIMER_INTID = 27n;

test('bare-metal EL1 program: MMU, SVC from EL0, timer IRQ out of WFI, PSCI off', () => {
  const image = new Uint8Array(readFileSync(join(fixtures().programs, 'baremetal-boot.bin')));
  // The smallest interrupt wire that honours the ICC registers the program uses: the virtual
  // timer's level is the one PPI; IAR1 acknowledges it when pending and group 1 is enabled.
  let pending = false;
  let enabled = false;
  const acked: bigint[] = [];
  const sys = system(image, {
    timerIrq: (t, level) => {
      if (t !== 'virt') return;
      pending = level;
      sys.cpu.irq.set(pending && enabled);
    },
    icc: {
      read: (r: IccRegister) =>
        r === 'IAR1' && pending && enabled ? VIRT_TIMER_INTID : r === 'IAR1' ? 1023n : 0n,
      write: (r: IccRegister, v: bigint) => {
        if (r === 'IGRPEN1') enabled = (v & 1n) === 1n;
        if (r === 'EOIR1') acked.push(v);
        sys.cpu.irq.set(pending && enabled);
      },
    },
  });
  const { cpu, bus, clock } = sys;
  let out = '';
  bus.addMmio(UART, 0x1000, {
    read: () => 0,
    write: (offset, _size, v) => {
      if (offset === 0) out += String.fromCharCode(v & 0xff);
    },
  });
  let waits = 0;
  while (!cpu.halted) {
    const ran = cpu.run(10_000);
    clock.advance(clock.nowNs() + ran);
    if (cpu.waiting) {
      waits++;
      assert.ok(clock.next() < Infinity, `waiting with no event pending at pc 0x${cpu.pc.toString(16)}`);
      clock.advance(clock.next());
    }
    assert.ok(cpu.instructions < 1_000_000, `runaway at pc 0x${cpu.pc.toString(16)}: ${out}`);
  }
  assert.equal(out, 'mmu on\nsvc from el0\ntimer irq 27\ndone\n');
  assert.deepEqual(acked, [VIRT_TIMER_INTID]);
  assert.equal(waits, 1, 'one WFI slept until the timer');
  assert.equal(cpu.el, 1);
});
