/** Decoder, ALU and FP unit tests: single instructions on a bare CPU, no qemu needed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cpu, PagedMemory, TABLE, lookup, type GuestException } from '../src';
import { F32, F64, fma, RM, RN, RP, RZ, roundExact, arith } from '../src/cpu/fpu';

/** Runs instruction words at 0x10000 on a fresh CPU; returns it and the exceptions it raised. */
function run(
  words: number[],
  setup: (c: Cpu) => void = () => undefined,
): { cpu: Cpu; raised: GuestException[] } {
  const mem = new PagedMemory();
  mem.map(0x10000, 0x20000);
  words.forEach((w, k) => mem.w32(0x10000 + 4 * k, w >>> 0));
  const raised: GuestException[] = [];
  const cpu = new Cpu(mem, {
    exception: (c, e) => {
      raised.push(e);
      if (e.kind !== 'svc') c.halted = true;
    },
  });
  cpu.pc = 0x10000n;
  setup(cpu);
  cpu.run(words.length);
  return { cpu, raised };
}

test('decode table: every entry value lies inside its mask and is reachable', () => {
  for (const d of TABLE) {
    assert.equal((d.value & ~d.mask) >>> 0, 0, `${d.name}: value outside mask`);
    // Shift-by-immediate shares its encoding space with modified-immediate when immh = 0.
    const probe = d.name.includes('shift by immediate') ? d.value | (1 << 19) : d.value;
    assert.equal(lookup(probe | 0), d, `${d.name}: shadowed by an earlier entry`);
  }
});

test('known encodings decode to their class', () => {
  const cases: [number, string][] = [
    [0x8b020020, 'ADD/SUB (shifted register)'],
    [0x91000421, 'ADD/SUB (immediate)'],
    [0xd65f03c0, 'RET'],
    [0x94000000, 'B/BL'],
    [0xf9400402, 'load/store (unsigned offset)'],
    [0xa9bf7bfd, 'load/store pair'],
    [0xc85f7c20, 'exclusive/ordered/CAS'],
    [0xf8200020, 'atomic memory operation'],
    [0x1e602820, 'FP data processing (2 source)'],
    [0x4e208420, 'SIMD three same'],
    [0xd53bd040, 'MRS'],
    [0xd503233f, 'HINT'],
  ];
  for (const [w, name] of cases) assert.equal(lookup(w | 0)?.name, name, w.toString(16));
});

test('an unallocated encoding raises UNDEFINED naming the encoding', () => {
  const { raised } = run([0x00000000]);
  assert.equal(raised[0].kind, 'undefined');
  assert.equal(raised[0].insn, 0);
  const r2 = run([0xdac10800]); // PACIA-family (not implemented: no pointer authentication)
  assert.equal(r2.raised[0].kind, 'undefined');
});

test('ADDS sets carry and overflow on 64 and 32 bits', () => {
  // adds x0, x1, x2 ; with x1 = -1, x2 = 1 → 0, Z and C
  const { cpu } = run([0xab020020], (c) => {
    c.setX(1, 0xffffffffffffffffn);
    c.setX(2, 1n);
  });
  assert.equal(cpu.getX(0), 0n);
  assert.equal(cpu.nzcv >>> 0, 0x60000000);
  // subs w0, w1, w2 with 0x80000000 - 1 → V set
  const r = run([0x6b020020], (c) => {
    c.setX(1, 0x80000000n);
    c.setX(2, 1n);
  });
  assert.equal(r.cpu.getX(0), 0x7fffffffn);
  assert.equal(r.cpu.nzcv >>> 0, 0x30000000);
});

test('division by zero gives zero; SDIV INT64_MIN / -1 wraps', () => {
  const { cpu } = run([0x9ac20820, 0x9ac40c63], (c) => {
    c.setX(1, 1234n);
    c.setX(2, 0n);
    c.setX(3, 0x8000000000000000n);
    c.setX(4, 0xffffffffffffffffn);
  });
  assert.equal(cpu.getX(0), 0n);
  assert.equal(cpu.getX(3), 0x8000000000000000n);
});

test('UMULH, SMULH and MADD on 64 bits', () => {
  // umulh x0, x1, x2 ; smulh x3, x1, x2 ; madd x4, x1, x2, x5
  const { cpu } = run([0x9bc27c20, 0x9b427c23, 0x9b021424], (c) => {
    c.setX(1, 0xffffffffffffffffn);
    c.setX(2, 0xfffffffffffffffen);
    c.setX(5, 7n);
  });
  assert.equal(cpu.getX(0), 0xfffffffffffffffdn);
  assert.equal(cpu.getX(3), 0n);
  assert.equal(cpu.getX(4), 9n);
});

test('bitfield moves: UBFX, SBFX, BFI, LSL/ASR aliases', () => {
  // ubfx x0, x1, #4, #8 ; sbfx x2, x1, #60, #4 ; bfi x3, x1, #8, #16 ; asr x4, x1, #63
  const { cpu } = run([0xd3442c20, 0x937cfc22, 0xb3783c23, 0x937ffc24], (c) => {
    c.setX(1, 0xf0000000_12345678n);
    c.setX(3, 0xffffffff_ffffffffn);
  });
  assert.equal(cpu.getX(0), 0x67n);
  assert.equal(cpu.getX(2), 0xffffffffffffffffn);
  assert.equal(cpu.getX(3), 0xffffffff_ff5678ffn);
  assert.equal(cpu.getX(4), 0xffffffffffffffffn);
});

test('SVC reaches the exception sink with its immediate', () => {
  const { raised } = run([0xd4000001]);
  assert.equal(raised[0].kind, 'svc');
  assert.equal(raised[0].imm, 0);
});

test('fused multiply-add rounds once', () => {
  const a = 1 + 2 ** -30;
  // a*a = 1 + 2^-29 + 2^-60: the unfused product loses 2^-60.
  assert.equal(fma(a, a, -1, F64, RN), 2 ** -29 + 2 ** -60);
  assert.equal(a * a - 1, 2 ** -29);
});

test('directed rounding of quotients and conversions', () => {
  assert.equal(arith('/', 1, 3, F64, RP) > arith('/', 1, 3, F64, RM), true);
  assert.equal(arith('/', 1, 3, F64, RZ), arith('/', 1, 3, F64, RM));
  assert.equal(roundExact(false, (1n << 53n) + 1n, 0, F64, RN), 2 ** 53);
  assert.equal(roundExact(false, (1n << 53n) + 1n, 0, F64, RP), 2 ** 53 + 2);
  assert.equal(roundExact(false, 1n, -1100, F64, RP), 2 ** -1074);
  assert.equal(roundExact(false, 1n, -1100, F64, RN), 0);
  assert.equal(roundExact(false, 3n, 200, F32, RZ), 3.4028234663852886e38);
});

test('FP NaN rules: default NaN generated, input NaN quieted and propagated', () => {
  // fadd d0, d1, d2 with d1 = inf, d2 = -inf → default NaN 0x7ff8...; fadd d3, d4, d1 with d4 SNaN
  const { cpu } = run([0x1e622820, 0x1e612883], (c) => {
    c.vf64[2] = Infinity;
    c.vf64[4] = -Infinity;
    c.vw[16] = 1;
    c.vw[17] = 0xfff00000; // d4: signalling NaN, payload 1, negative
  });
  assert.deepEqual([cpu.vw[0], cpu.vw[1]], [0, 0x7ff80000]);
  assert.deepEqual([cpu.vw[12], cpu.vw[13]], [1, 0xfff80000]);
});
