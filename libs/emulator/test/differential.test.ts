/** C programs (-O0 and -O2) under qemu-aarch64 and the emulator: stdout, stderr, exit status equal. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtures, underEmulator, underQemu } from './fixtures';

for (const program of ['integer', 'fp', 'simd', 'atomics']) {
  for (const opt of ['O0', 'O2']) {
    test(`${program} -${opt} matches qemu-aarch64`, () => {
      const elf = join(fixtures().programs, `${program}-${opt}`);
      const want = underQemu(elf, []);
      const got = underEmulator(elf, []);
      assert.ok(want.stdout.length > 0, 'qemu-aarch64 produced no output');
      assert.equal(got.stdout, want.stdout);
      assert.equal(got.stderr, want.stderr);
      assert.equal(got.status, want.status);
    });
  }
}
