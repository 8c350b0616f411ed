/**
 * Coverage-less mutation: input number i of a target is a pure function of (target, i, seeds), so
 * a finding is reproduced from its number alone and a checkpoint is just the next number.
 */

/** One starting input: real fixture bytes or a generated image. */
export interface Seed {
  name: string;
  data: Buffer;
  /** Byte ranges [start, end) where the parser's metadata lives; most mutations land there. */
  hot?: ReadonlyArray<readonly [number, number]>;
}

/** mulberry32: small, fast, and good enough to pick offsets and values. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
}

/** FNV-1a of a string: a target's name becomes part of every input's random seed. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const I8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x0f, 0x10, 0x40];
const I32 = [
  0, 1, 2, 8, 9, 0x10, 0x20, 0x40, 0x48, 0x68, 0x80, 0x1ff, 0x200, 0x201, 0xfff, 0x1000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffe, 0xffffffff,
];

function offsetIn(rng: Rng, seed: Seed, length: number, width: number): number {
  const room = Math.max(1, length - width + 1);
  if (seed.hot?.length && rng.chance(0.8)) {
    const [a, b] = rng.pick(seed.hot);
    const lo = Math.min(a, room - 1);
    const hi = Math.min(b, room);
    const at = lo + rng.below(Math.max(1, hi - lo));
    // Fields are mostly aligned to their width.
    return rng.chance(0.5) ? at - (at % width) : at;
  }
  return rng.below(room);
}

function interesting32(rng: Rng, length: number): number {
  if (rng.chance(0.15)) return length >>> 0;
  if (rng.chance(0.1)) return (length + rng.below(1024) - 512) >>> 0;
  if (rng.chance(0.2)) return rng.u32();
  if (rng.chance(0.2)) return rng.below(4096);
  return rng.pick(I32);
}

/**
 * One reusable buffer per seed, refilled from the seed for every input: a fresh copy of a large
 * seed per input cost more in allocation, page faults and collection than the parsers did. An
 * input lives until the next one is made (findings are written out before that).
 */
const scratch = new WeakMap<Seed, Buffer>();

function freshCopy(seed: Seed): Buffer {
  let b = scratch.get(seed);
  if (!b) {
    b = Buffer.allocUnsafe(seed.data.length);
    scratch.set(seed, b);
  }
  seed.data.copy(b);
  return b;
}

/**
 * Applies 1 to 8 stacked mutations to a copy of `seed.data`: bit flips, interesting 8/16/32/64-bit
 * values in either byte order, small deltas, copied and zeroed blocks, dictionary tokens, and now
 * and then a truncation or insertion.
 */
export function mutate(seed: Seed, rng: Rng, dictionary: readonly Buffer[]): Buffer {
  let b = freshCopy(seed);
  const n = 1 + (rng.chance(0.5) ? 0 : rng.below(8));
  for (let k = 0; k < n; k++) {
    if (b.length === 0) b = Buffer.from([rng.below(256)]);
    const op = rng.below(dictionary.length ? 12 : 11);
    switch (op) {
      case 0: {
        const at = offsetIn(rng, seed, b.length, 1);
        b[at] ^= 1 << rng.below(8);
        break;
      }
      case 1:
        b[offsetIn(rng, seed, b.length, 1)] = rng.chance(0.5) ? rng.pick(I8) : rng.below(256);
        break;
      case 2: {
        if (b.length < 2) break;
        const at = offsetIn(rng, seed, b.length, 2);
        const v = interesting32(rng, b.length) & 0xffff;
        if (rng.chance(0.5)) b.writeUInt16LE(v, at);
        else b.writeUInt16BE(v, at);
        break;
      }
      case 3:
      case 4: {
        if (b.length < 4) break;
        const at = offsetIn(rng, seed, b.length, 4);
        const v = interesting32(rng, b.length);
        if (rng.chance(0.5)) b.writeUInt32LE(v, at);
        else b.writeUInt32BE(v, at);
        break;
      }
      case 5: {
        if (b.length < 8) break;
        const at = offsetIn(rng, seed, b.length, 8);
        const hi = rng.chance(0.6) ? 0 : rng.chance(0.5) ? 0xffffffff : rng.u32();
        const lo = interesting32(rng, b.length);
        const v = (BigInt(hi) << 32n) | BigInt(lo);
        if (rng.chance(0.5)) b.writeBigUInt64LE(v, at);
        else b.writeBigUInt64BE(v, at);
        break;
      }
      case 6: {
        if (b.length < 4) break;
        const at = offsetIn(rng, seed, b.length, 4);
        const delta = rng.below(33) - 16;
        if (rng.chance(0.5)) b.writeUInt32LE((b.readUInt32LE(at) + delta) >>> 0, at);
        else b.writeUInt32BE((b.readUInt32BE(at) + delta) >>> 0, at);
        break;
      }
      case 7: {
        const len = 1 + rng.below(Math.min(b.length, 512));
        const from = rng.below(b.length - len + 1);
        const to = offsetIn(rng, seed, b.length, len);
        b.copyWithin(to, from, from + len);
        break;
      }
      case 8: {
        const len = 1 + rng.below(Math.min(b.length, 4096));
        const at = offsetIn(rng, seed, b.length, len);
        b.fill(rng.chance(0.7) ? 0 : 0xff, at, at + len);
        break;
      }
      case 9:
        if (rng.chance(0.3)) b = b.subarray(0, rng.below(b.length + 1));
        break;
      case 10: {
        if (!rng.chance(0.3)) break;
        const at = offsetIn(rng, seed, b.length, 1);
        const len = 1 + rng.below(64);
        const chunk = b.subarray(rng.below(b.length), b.length).subarray(0, len);
        b = Buffer.concat([b.subarray(0, at), chunk, b.subarray(at)]);
        break;
      }
      default: {
        const token = rng.pick(dictionary);
        const at = offsetIn(rng, seed, b.length, token.length);
        if (rng.chance(0.5) || token.length > b.length)
          b = Buffer.concat([b.subarray(0, at), token, b.subarray(at)]);
        else token.copy(b, at);
      }
    }
  }
  return b;
}

/** Input number `i` of a target: the seed it starts from and the bytes. */
export function inputFor(
  name: string,
  seeds: readonly Seed[],
  dictionary: readonly Buffer[],
  i: number,
): { seed: Seed; data: Buffer } {
  const rng = new Rng(hashName(name) ^ Math.imul(i + 1, 0x9e3779b1));
  const seed = seeds[rng.below(seeds.length)];
  // One input in 64 is a seed as it is, so the unmutated paths stay exercised.
  if (rng.chance(1 / 64)) return { seed, data: freshCopy(seed) };
  return { seed, data: mutate(seed, rng, dictionary) };
}
