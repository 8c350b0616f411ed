/**
 * The machine around a tiny flash program (no firmware): the PE starts at the flash base in EL1,
 * the FDT is at the start of RAM, the PL011 reaches the console callback, PSCI SYSTEM_RESET
 * restarts from the flash and SYSTEM_OFF stops the run; the PCIe ECAM shows the host bridge.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VirtMachine } from '../src/machine/virt';

/**
 * mov x1, #0x9000000; mov w2, #<ch>; strb w2, [x1]; mov w0, #<fn & 0xffff>; movk w0, #0x8400, lsl 16;
 * hvc #0; b .
 */
function program(ch: string, psciFn: number): Uint8Array {
  const words = [
    0xd2a12001,
    0x52800002 | (ch.charCodeAt(0) << 5),
    0x39000022,
    0x52800000 | ((psciFn & 0xffff) << 5),
    0x72b08000,
    0xd4000002,
    0x14000000,
  ];
  const b = new Uint8Array(256 * 1024).fill(0xff);
  words.forEach((w, i) => new DataView(b.buffer).setUint32(4 * i, w, true));
  return b;
}

function machine(code: Uint8Array, out: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-virt-'));
  writeFileSync(join(dir, 'code.fd'), code);
  writeFileSync(join(dir, 'vars.fd'), new Uint8Array(256 * 1024).fill(0xff));
  const m = new VirtMachine({
    firmwareCode: join(dir, 'code.fd'),
    firmwareVars: join(dir, 'vars.fd'),
    memoryMiB: 128,
    time: 'deterministic',
    onConsole: (b) => out.push(Buffer.from(b).toString('latin1')),
  });
  return { m, dir };
}

test('PSCI SYSTEM_OFF ends the run; the FDT is at the start of RAM; ECAM shows 00:00.0', async () => {
  const out: string[] = [];
  const { m, dir } = machine(program('B', 0x8400_0008), out);
  try {
    assert.equal(m.cpu.el, 1, 'firmware starts in EL1 (no EL2/EL3)');
    assert.equal(m.bus.r32(0x4000_0000), 0xedfe0dd0, 'FDT magic (big-endian) at 0x4000_0000');
    assert.equal(m.bus.r32(0x3f00_0000), 0x0008_1b36, 'QEMU PCIe host bridge at 00:00.0');
    assert.equal(m.bus.r32(0x3f00_8000), 0xffff_ffff, 'no device at 00:01.0');
    assert.equal(await m.run({ timeoutMs: 60_000 }), 'off');
    assert.equal(out.join(''), 'B');
  } finally {
    m.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PSCI SYSTEM_RESET restarts the PE at the flash base', async () => {
  const out: string[] = [];
  const { m, dir } = machine(program('A', 0x8400_0009), out);
  try {
    assert.equal(await m.run({ until: () => out.length >= 3, timeoutMs: 60_000 }), 'until');
    assert.equal(out.join(''), 'AAA');
  } finally {
    m.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
