/** Loading a static AArch64 Linux ELF into guest memory. */
import type { PagedMemory } from '../cpu/memory';

export class ElfError extends Error {}

export interface LoadedElf {
  entry: number;
  /** Address of the program headers in guest memory (AT_PHDR). */
  phdr: number;
  phent: number;
  phnum: number;
  /** First address above every segment (initial program break). */
  end: number;
  base: number;
}

const PT_LOAD = 1;
const PT_INTERP = 3;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_AARCH64 = 183;
/** Where a static-pie (ET_DYN) image is placed. */
const PIE_BASE = 0x10000000;

export function loadElf(image: Uint8Array, mem: PagedMemory): LoadedElf {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 64 || dv.getUint32(0, false) !== 0x7f454c46) throw new ElfError('not an ELF file');
  if (image[4] !== 2 || image[5] !== 1) throw new ElfError('not a 64-bit little-endian ELF file');
  const type = dv.getUint16(16, true);
  if (dv.getUint16(18, true) !== EM_AARCH64) throw new ElfError('not an AArch64 ELF file');
  if (type !== ET_EXEC && type !== ET_DYN) throw new ElfError('not an executable ELF file');
  const base = type === ET_DYN ? PIE_BASE : 0;
  const entry = Number(dv.getBigUint64(24, true)) + base;
  const phoff = Number(dv.getBigUint64(32, true));
  const phent = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  // Checked before any read: a file's own numbers must not take the loader outside the file.
  if (phnum > 0 && phent < 56) throw new ElfError(`program header size ${phent} is below 56`);
  if (phoff + phnum * phent > image.length) throw new ElfError('program headers pass the end of the file');
  let end = 0;
  let phdr = 0;
  for (let k = 0; k < phnum; k++) {
    const o = phoff + k * phent;
    const ptype = dv.getUint32(o, true);
    if (ptype === PT_INTERP)
      throw new ElfError('dynamically linked executables are not supported (link with -static)');
    if (ptype !== PT_LOAD) continue;
    const off = Number(dv.getBigUint64(o + 8, true));
    const vaddr = Number(dv.getBigUint64(o + 16, true)) + base;
    const filesz = Number(dv.getBigUint64(o + 32, true));
    const memsz = Number(dv.getBigUint64(o + 40, true));
    if (vaddr + memsz > 0xe0000000) throw new ElfError('segment outside the supported address range');
    if (off + filesz > image.length) throw new ElfError('segment contents pass the end of the file');
    if (filesz > memsz) throw new ElfError('segment has more file bytes than memory');
    mem.map(vaddr, memsz);
    mem.writeBytes(vaddr, image.subarray(off, off + filesz));
    if (phoff >= off && phoff < off + filesz) phdr = vaddr + (phoff - off);
    end = Math.max(end, vaddr + memsz);
  }
  return { entry, phdr, phent, phnum, end, base };
}
