import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePe, peHeaderBytes } from '../src';
import { buildPe, TEXT } from './builders';

test('an aarch64 EFI application', () => {
  const b = buildPe();
  const r = parsePe(b, b.length);
  assert.ok(r.ok);
  assert.equal(r.pe.machineHex, '0xAA64');
  assert.equal(r.pe.magic, 'PE32+');
  assert.equal(r.pe.subsystem, 10);
  assert.equal(r.pe.subsystemName, 'EFI application');
  assert.equal(r.pe.entrySection, '.text');
  assert.deepEqual(r.pe.problems, []);
  assert.ok(peHeaderBytes(b) < 1024);
});

test('ARM (aarch32) PE32, x86-64 and RISC-V machines are named', () => {
  for (const [machine, name] of [
    [0x1c2, 'ARM Thumb/ARM mixed (aarch32)'],
    [0x8664, 'x86-64'],
    [0x14c, 'i386'],
    [0x5064, 'RISC-V 64'],
  ] as const) {
    const b = buildPe({ machine, magic: 0x10b });
    const r = parsePe(b, b.length);
    assert.ok(r.ok);
    assert.equal(r.pe.machineName, name);
    assert.equal(r.pe.magic, 'PE32');
  }
});

test('entry point outside an executable section, sections past the end', () => {
  let b = buildPe({ entry: 0x2000 });
  let r = parsePe(b, b.length);
  assert.ok(r.ok);
  assert.match(r.pe.problems.join(), /lies in section .data, which is not executable/);
  b = buildPe({ entry: 0x9000 });
  r = parsePe(b, b.length);
  assert.ok(r.ok && /lies in no section/.test(r.pe.problems.join()));
  b = buildPe({ sections: [{ name: '.text', va: 0x1000, size: 0x100000, characteristics: TEXT }] });
  r = parsePe(b, b.length);
  assert.ok(r.ok && /runs past the file end/.test(r.pe.problems.join()));
});

test('not a PE: no MZ, bad e_lfanew, no PE signature, truncated', () => {
  assert.deepEqual(parsePe(Buffer.from('hello'), 5), { ok: false, reason: "no 'MZ' DOS header" });
  const b = buildPe();
  b.writeUInt32LE(0xfffffff0, 0x3c);
  assert.match((parsePe(b, b.length) as { reason: string }).reason, /e_lfanew .* outside/);
  const c = buildPe();
  c.write('XX', 0x80, 'latin1');
  assert.match((parsePe(c, c.length) as { reason: string }).reason, /no 'PE\\0\\0'/);
  const d = buildPe().subarray(0, 0x90);
  assert.equal(parsePe(d, d.length).ok, false);
});
