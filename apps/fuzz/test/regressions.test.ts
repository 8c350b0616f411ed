/** Defects the fuzzer found, each as the smallest input that showed it, against the real parser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ElfError, loadElf, PagedMemory } from '@vmfarm/emulator';
import { tinyElf } from '../src/targets/elf';

test('ELF: the minimal executable loads', () => {
  const loaded = loadElf(tinyElf(2), new PagedMemory());
  assert.equal(loaded.entry, 0x400078);
  assert.equal(loaded.end, 0x402000);
});

test('ELF: headers and segments past the file end are ElfErrors, not RangeError or an unmapped write', () => {
  const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
    ['program headers past the end', (b) => b.writeBigUInt64LE(0xf0n, 32), /program headers pass the end/],
    ['a huge program header count', (b) => b.writeUInt16LE(0xffff, 56), /program headers pass the end/],
    ['program headers shorter than 56 bytes', (b) => b.writeUInt16LE(8, 54), /program header size 8/],
    [
      'segment contents past the end',
      (b) => b.writeBigUInt64LE(0x1000n, 72),
      /segment contents pass the end/,
    ],
    ['more file bytes than memory', (b) => b.writeBigUInt64LE(0x10n, 104), /more file bytes than memory/],
  ];
  for (const [what, change, reason] of cases) {
    const b = tinyElf(2);
    change(b);
    assert.throws(
      () => loadElf(b, new PagedMemory()),
      (err: Error) => err instanceof ElfError && reason.test(err.message),
      what,
    );
  }
});
