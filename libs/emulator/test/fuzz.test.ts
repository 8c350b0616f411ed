/**
 * Random-instruction fuzzing against qemu-aarch64: short random valid sequences run by the harness
 * under both, whole register state compared (x0-x30, NZCV, v0-v31). Fixed seed and bounded count
 * here; longer runs: VMFARM_FUZZ_SEED=<n> VMFARM_FUZZ_CASES=<n> (see libs/emulator/README.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { lookup } from '../src';
import { fixtures, underEmulator, underQemu } from './fixtures';
import { generateCases } from './fuzz/generate';

const SEED = Number(process.env.VMFARM_FUZZ_SEED ?? 20261122);
const CASES = Number(process.env.VMFARM_FUZZ_CASES ?? 1500);
const dir = mkdtempSync(join(tmpdir(), 'vmfarm-emu-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test(`fuzz: ${CASES} random sequences (seed ${SEED}) match qemu-aarch64`, () => {
  const { file, words } = generateCases(SEED, CASES, 6);
  const cases = join(dir, 'cases.bin');
  writeFileSync(cases, file);
  const harness = join(fixtures().programs, 'harness-O2');
  const want = underQemu(harness, [cases]);
  const got = underEmulator(harness, [cases]);
  const a = want.stdout.split('\n');
  if (want.status !== 0) {
    const k = a.length - 1;
    const insns = (words[k] ?? [])
      .map((w) => `${w.toString(16).padStart(8, '0')} (${lookup(w | 0)?.name})`)
      .join(', ');
    assert.fail(`qemu-aarch64 died on case ${k} [${insns}]: ${want.stderr.trim()}`);
  }
  const b = got.stdout.split('\n');
  const names = [
    'x0',
    'x1',
    'x2',
    'x3',
    'x4',
    'x5',
    'x6',
    'x7',
    'x8',
    'x9',
    'x10',
    'x11',
    'x12',
    'x13',
    'x14',
    'x15',
    'x16',
    'x17',
    'x18',
    'x19',
    'x20',
    'x21',
    'x22',
    'x23',
    'x24',
    'x25',
    'x26',
    'x27',
    'x28',
    'x29',
    'x30',
    'nzcv',
    ...Array.from({ length: 32 }, (_, k) => `v${k}`),
  ];
  const failures: string[] = [];
  for (let k = 0; k < words.length; k++) {
    if (a[k] === b[k]) continue;
    const fa = (a[k] ?? '').split(' ');
    const fb = (b[k] ?? '').split(' ');
    const diff = names
      .filter((_, r) => fa[r] !== fb[r])
      .map((n) => `${n}: qemu ${fa[names.indexOf(n)]} emulator ${fb[names.indexOf(n)]}`);
    const insns = words[k]
      .map((w) => `${w.toString(16).padStart(8, '0')} (${lookup(w | 0)?.name})`)
      .join(', ');
    failures.push(`case ${k}: [${insns}] ${diff.slice(0, 4).join('; ')}`);
    if (failures.length >= 10) break;
  }
  assert.equal(got.status, 0, `emulator failed: ${got.stderr}`);
  assert.deepEqual(failures, []);
});
