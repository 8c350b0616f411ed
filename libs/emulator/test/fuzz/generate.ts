/**
 * Random valid instruction sequences for the fuzz harness: words drawn from the decode table's
 * data-processing classes (integer, FP, SIMD), keeping those this CPU executes (not UNDEFINED) and
 * that leave SP and the PC out of the result.
 */
import { Cpu, PagedMemory, TABLE, UndefinedInstruction, decode, lookup, type InsnDef } from '../../src';

const SP_FORMS = new Set(['ADD/SUB (immediate)', 'ADD/SUB (extended register)', 'logical (immediate)']);

export class Rng {
  constructor(private s: number) {
    if (this.s === 0) this.s = 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
}

/** Rejects words the emulator treats as UNDEFINED (executes the handler on a scratch CPU). */
function makeProbe(): (word: number) => boolean {
  const cpu = new Cpu(new PagedMemory(), { exception: () => undefined });
  return (word) => {
    try {
      decode(word | 0)(cpu, word | 0);
      return true;
    } catch (err) {
      if (err instanceof UndefinedInstruction) return false;
      throw err;
    }
  };
}

export function randomInstruction(rng: Rng, defs: InsnDef[], ok: (w: number) => boolean): number {
  for (;;) {
    const d = defs[rng.next() % defs.length];
    const word = ((d.value & d.mask) | (rng.next() & ~d.mask)) >>> 0;
    if (lookup(word | 0) !== d) continue;
    if (SP_FORMS.has(d.name) && ((word & 31) === 31 || ((word >>> 5) & 31) === 31)) continue;
    if (ok(word)) return word;
  }
}

/** Cases in the harness's file format: u32 seed, u32 fpcr, u32 count, count words. */
export function generateCases(
  seed: number,
  cases: number,
  length: number,
  classes: string[] = ['dp-imm', 'dp-reg', 'fp', 'simd'],
): { file: Buffer; words: number[][] } {
  const rng = new Rng(seed);
  const defs = TABLE.filter((d) => classes.includes(d.cls) && d.name !== 'ADR/ADRP');
  const ok = makeProbe();
  const parts: Buffer[] = [];
  const words: number[][] = [];
  for (let k = 0; k < cases; k++) {
    const n = 1 + (rng.next() % length);
    const fpcr = ((rng.next() & 3) << 22) | (rng.next() % 4 === 0 ? 1 << 25 : 0);
    const w: number[] = [];
    for (let j = 0; j < n; j++) w.push(randomInstruction(rng, defs, ok));
    const b = Buffer.alloc(12 + 4 * n);
    b.writeUInt32LE(rng.next(), 0);
    b.writeUInt32LE(fpcr >>> 0, 4);
    b.writeUInt32LE(n, 8);
    w.forEach((x, j) => b.writeUInt32LE(x, 12 + 4 * j));
    parts.push(b);
    words.push(w);
  }
  return { file: Buffer.concat(parts), words };
}
