/** Debian's busybox-static applets: same output and exit status under qemu-aarch64 and the emulator. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fixtures, underEmulator, underQemu } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-emu-bb-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'words.txt'), 'pear\n10\napple\n2\nbanana\n-3\nApple\n\n1.5\nzebra\n');
writeFileSync(
  join(dir, 'data.bin'),
  Buffer.from(Array.from({ length: 100000 }, (_, i) => (i * 7919) & 0xff)),
);

const CASES: [string, string[]][] = [
  [
    'sh arithmetic and loops',
    [
      'sh',
      '-c',
      'i=0; s=0; while [ $i -lt 200 ]; do s=$((s + i * i % 7 - (i << 2) / 3)); i=$((i + 1)); done; for w in a b c; do echo "$w $s $((s ^ 0x5a5a))"; done; test $s -gt 0 && exit 3',
    ],
  ],
  ['sort', ['sort', 'words.txt']],
  ['sort -n -r', ['sort', '-n', '-r', 'words.txt']],
  ['sha256sum', ['sha256sum', 'words.txt', 'data.bin']],
  [
    'awk floating point',
    [
      'awk',
      'BEGIN { x = 0; for (i = 1; i <= 1000; i++) x += 1 / i; printf "%.10f %g %e %d\\n", x, x * 3.7, 1 / 3, 7 / 2 }',
    ],
  ],
  ['awk fields', ['awk', '{ n += length($0); s = s $1 } END { print NR, n, s }', 'words.txt']],
  ['expr', ['expr', '7', '*', '6', '+', '1']],
  ['expr false', ['expr', '3', '=', '4']],
];

for (const [name, args] of CASES) {
  test(`busybox ${name}`, () => {
    const bb = fixtures().busybox;
    const want = underQemu(bb, args, dir);
    const got = underEmulator(bb, args, dir);
    assert.equal(got.stdout, want.stdout);
    assert.equal(got.stderr, want.stderr);
    assert.equal(got.status, want.status);
  });
}
