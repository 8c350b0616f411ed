/** User-mode runner: a static AArch64 Linux ELF on the CPU and the Linux syscall layer. */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cpu } from '../cpu/cpu';
import { PagedMemory } from '../cpu/memory';
import { loadElf } from './elf';
import { LinuxProcess } from './linux';

export interface RunOptions {
  /** Environment strings (NAME=value); default: the host's, as qemu-aarch64 passes them. */
  env?: string[];
  /** Called with one line per unsupported syscall (the first time each is seen). */
  trace?: (line: string) => void;
  /** AT_HWCAP override (e.g. to match `qemu-aarch64 -cpu cortex-a57` when comparing traces). */
  hwcap?: number;
}

export interface RunResult {
  exitCode: number;
  instructions: number;
  seconds: number;
}

const STACK_TOP = 0xf0000000;
const STACK_SIZE = 8 << 20;

const AT = {
  NULL: 0,
  PHDR: 3,
  PHENT: 4,
  PHNUM: 5,
  PAGESZ: 6,
  BASE: 7,
  FLAGS: 8,
  ENTRY: 9,
  UID: 11,
  EUID: 12,
  GID: 13,
  EGID: 14,
  PLATFORM: 15,
  HWCAP: 16,
  CLKTCK: 17,
  SECURE: 23,
  RANDOM: 25,
  HWCAP2: 26,
  EXECFN: 31,
};
/** FP, ASIMD, CRC32, ATOMICS: what this CPU implements. */
const HWCAP = (1 << 0) | (1 << 1) | (1 << 7) | (1 << 8);

/** Prepares a process: memory, the ELF image, the initial stack (argv, envp, auxv). */
export function createProcess(elfPath: string, args: string[], opts: RunOptions = {}) {
  const mem = new PagedMemory();
  const elf = loadElf(readFileSync(elfPath), mem);
  const proc = new LinuxProcess(mem, { exe: elfPath, trace: opts.trace });
  proc.brkStart = proc.brk = Math.ceil(elf.end / 4096) * 4096;
  mem.map(proc.brk, 4096);
  mem.map(STACK_TOP - STACK_SIZE, STACK_SIZE);

  const env = opts.env ?? Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const argv = [elfPath, ...args];
  let sp = STACK_TOP - 16;
  const putString = (s: string): number => {
    const b = Buffer.from(s + '\0');
    sp -= b.length;
    mem.writeBytes(sp, b);
    return sp;
  };
  const execfn = putString(elfPath);
  const platform = putString('aarch64');
  const argvPtrs = argv.map(putString);
  const envPtrs = env.map(putString);
  sp -= 16;
  const random = sp;
  const rnd = new Uint8Array(16);
  randomFillSync(rnd);
  mem.writeBytes(random, rnd);
  sp = (sp & ~15) >>> 0;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const auxv: [number, number][] = [
    [AT.PHDR, elf.phdr],
    [AT.PHENT, elf.phent],
    [AT.PHNUM, elf.phnum],
    [AT.PAGESZ, 4096],
    [AT.BASE, 0],
    [AT.FLAGS, 0],
    [AT.ENTRY, elf.entry],
    [AT.UID, uid],
    [AT.EUID, uid],
    [AT.GID, gid],
    [AT.EGID, gid],
    [AT.PLATFORM, platform],
    [AT.HWCAP, opts.hwcap ?? HWCAP],
    [AT.CLKTCK, 100],
    [AT.SECURE, 0],
    [AT.RANDOM, random],
    [AT.HWCAP2, 0],
    [AT.EXECFN, execfn],
    [AT.NULL, 0],
  ];
  const words = [argv.length, ...argvPtrs, 0, ...envPtrs, 0, ...auxv.flat()];
  if (words.length % 2) words.push(0);
  sp -= words.length * 8;
  words.forEach((w, k) => {
    mem.w32(sp + k * 8, w >>> 0);
    mem.w32(sp + k * 8 + 4, Math.floor(w / 4294967296));
  });

  const cpu = new Cpu(mem, proc);
  cpu.pc = BigInt(elf.entry);
  cpu.setX(31, BigInt(sp));
  return { cpu, proc, mem };
}

/** Runs to completion; returns the guest's exit status (128 + signal for fatal signals). */
export function runElf(elfPath: string, args: string[], opts: RunOptions = {}): RunResult {
  const { cpu, proc } = createProcess(elfPath, args, opts);
  const t0 = process.hrtime.bigint();
  while (!cpu.halted) cpu.run(10_000_000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { exitCode: proc.exitCode ?? 0, instructions: cpu.instructions, seconds };
}
