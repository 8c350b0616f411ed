export { Cpu, type ExceptionSink, type Mmu } from './cpu/cpu';
export { PagedMemory, MemoryFault, type MmioHandler } from './cpu/memory';
export { TABLE, lookup, decode, type InsnDef, type Handler } from './cpu/decoder';
export { UndefinedInstruction, describeException, type GuestException } from './cpu/exceptions';
export { SYSREGS, findSysReg, sysRegKey } from './cpu/sysregs';
export { runElf, createProcess, type RunOptions, type RunResult } from './user/runner';
export { LinuxProcess } from './user/linux';
export { loadElf, ElfError } from './user/elf';
