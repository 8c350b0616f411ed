import { ElfError, loadElf, MemoryFault, PagedMemory } from '@vmfarm/emulator';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Target } from '../engine';
import { emulatorPrograms } from '../fixtures';
import type { Seed } from '../mutate';

/**
 * Guest memory that records mappings instead of allocating them: a fuzzed segment size must cost
 * nothing, while a write outside what the loader mapped still faults as it would in a real one.
 */
class LedgerMemory extends PagedMemory {
  private ranges: Array<[number, number]> = [];

  override map(start: number, length: number): void {
    if (length <= 0) return;
    if (start + length > 2 ** 32) throw new MemoryFault(start + length - 1, true);
    this.ranges.push([start, start + length]);
  }

  override writeBytes(pa: number, data: Uint8Array): void {
    const end = pa + data.length;
    if (data.length > 0 && !this.ranges.some(([a, b]) => pa >= a && end <= b))
      throw new MemoryFault(pa, true);
  }

  reset(): void {
    this.ranges = [];
  }
}

/** A minimal static AArch64 executable: ELF header, one PT_LOAD, four instructions. */
export function tinyElf(type: 2 | 3): Buffer {
  const b = Buffer.alloc(0x100);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b[6] = 1;
  b.writeUInt16LE(type, 16);
  b.writeUInt16LE(183, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x400000n + 0x78n, 24);
  b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(1, 56);
  b.writeUInt32LE(1, 64);
  b.writeUInt32LE(5, 68);
  b.writeBigUInt64LE(0n, 72);
  b.writeBigUInt64LE(0x400000n, 80);
  b.writeBigUInt64LE(0x400000n, 88);
  b.writeBigUInt64LE(0x100n, 96);
  b.writeBigUInt64LE(0x2000n, 104);
  b.writeBigUInt64LE(0x10000n, 112);
  return b;
}

const mem = new LedgerMemory();

export const elf: Target = {
  name: 'elf',
  async seeds(): Promise<Seed[]> {
    const seeds: Seed[] = [
      { name: 'generated-exec', data: tinyElf(2) },
      { name: 'generated-pie', data: tinyElf(3) },
    ];
    // Static programs built by the emulator's tests (musl/glibc, -O0 and -O2), when cached here.
    for (const p of emulatorPrograms().slice(0, 4)) seeds.push({ name: basename(p), data: readFileSync(p) });
    return seeds.map((s) => ({ ...s, hot: [[0, Math.min(s.data.length, 64 + 56 * 12)]] }));
  },
  dictionary: [
    Buffer.from('\x7fELF', 'latin1'),
    Buffer.from([183, 0]),
    Buffer.from([1, 0, 0, 0, 5, 0, 0, 0]),
  ],
  run(input) {
    mem.reset();
    loadElf(input, mem);
  },
  expected: (err) => err instanceof ElfError,
};
