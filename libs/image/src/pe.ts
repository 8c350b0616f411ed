/** PE/COFF header facts of an EFI binary: pure functions over its first bytes. */

export const MACHINES: Record<number, string> = {
  0xaa64: 'aarch64 (ARM64)',
  0x01c2: 'ARM Thumb/ARM mixed (aarch32)',
  0x01c0: 'ARM',
  0x8664: 'x86-64',
  0x014c: 'i386',
  0x5032: 'RISC-V 32',
  0x5064: 'RISC-V 64',
  0x5128: 'RISC-V 128',
  0x0200: 'Itanium',
  0x6264: 'LoongArch 64',
};

export const SUBSYSTEMS: Record<number, string> = {
  10: 'EFI application',
  11: 'EFI boot service driver',
  12: 'EFI runtime driver',
  13: 'EFI ROM',
  1: 'native',
  2: 'Windows GUI',
  3: 'Windows console',
};

const SCN_CNT_CODE = 0x20;
const SCN_MEM_EXECUTE = 0x20000000;

export interface PeSection {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawSize: number;
  rawOffset: number;
  characteristics: string;
  executable: boolean;
}

export interface PeInfo {
  machine: number;
  machineHex: string;
  machineName: string;
  magic: 'PE32' | 'PE32+' | string;
  subsystem: number;
  subsystemName: string;
  entryPoint: string;
  /** The section holding the entry point, or null. */
  entrySection: string | null;
  sections: PeSection[];
  /** Everything wrong with the headers; empty for a sane binary. */
  problems: string[];
}

export type PeParse = { ok: true; pe: PeInfo } | { ok: false; reason: string };

const hex = (n: number, w = 4) => `0x${n.toString(16).toUpperCase().padStart(w, '0')}`;

/** How many bytes of the file `parsePe` needs to see the section table (call with the first 4 KiB first). */
export function peHeaderBytes(head: Buffer): number {
  if (head.length < 0x40 || head.readUInt16LE(0) !== 0x5a4d) return head.length;
  const lfanew = head.readUInt32LE(0x3c);
  if (lfanew + 24 > head.length) return lfanew + 24 + 0xffff + 40 * 96;
  const sections = head.readUInt16LE(lfanew + 6);
  const optSize = head.readUInt16LE(lfanew + 20);
  return lfanew + 24 + optSize + sections * 40;
}

/** Parses MZ + PE headers and the section table from `b` (the file's first bytes), `fileSize` the whole file. */
export function parsePe(b: Buffer, fileSize: number): PeParse {
  if (b.length < 0x40 || b.readUInt16LE(0) !== 0x5a4d) return { ok: false, reason: "no 'MZ' DOS header" };
  const lfanew = b.readUInt32LE(0x3c);
  if (lfanew < 0x40 || lfanew + 24 > Math.min(b.length, fileSize))
    return { ok: false, reason: `e_lfanew ${hex(lfanew, 8)} points outside the file` };
  if (b.toString('latin1', lfanew, lfanew + 4) !== 'PE\0\0')
    return { ok: false, reason: `no 'PE\\0\\0' signature at e_lfanew ${hex(lfanew, 8)}` };
  const coff = lfanew + 4;
  const machine = b.readUInt16LE(coff);
  const sectionCount = b.readUInt16LE(coff + 2);
  const optSize = b.readUInt16LE(coff + 16);
  const opt = coff + 20;
  if (optSize < 2 || opt + optSize > b.length)
    return { ok: false, reason: `optional header (${optSize} bytes) does not fit in the file` };
  const magicNum = b.readUInt16LE(opt);
  const magic = magicNum === 0x10b ? 'PE32' : magicNum === 0x20b ? 'PE32+' : hex(magicNum);
  const problems: string[] = [];
  if (magic !== 'PE32' && magic !== 'PE32+')
    problems.push(`optional header magic ${magic} is neither PE32 nor PE32+`);
  const subsystemOff = opt + 68;
  const subsystem = optSize >= 70 ? b.readUInt16LE(subsystemOff) : 0;
  if (optSize < 70) problems.push(`optional header of ${optSize} bytes has no subsystem field`);
  const entry = optSize >= 20 ? b.readUInt32LE(opt + 16) : 0;
  const sectionTable = opt + optSize;
  const sections: PeSection[] = [];
  if (sectionCount === 0) problems.push('the section table is empty');
  if (sectionTable + sectionCount * 40 > Math.min(b.length, fileSize))
    problems.push(
      `section table (${sectionCount} entries at ${hex(sectionTable, 8)}) runs past the file end`,
    );
  else
    for (let i = 0; i < sectionCount; i++) {
      const s = sectionTable + i * 40;
      const rawName = b.toString('latin1', s, s + 8);
      const nul = rawName.indexOf('\0');
      const ch = b.readUInt32LE(s + 36);
      const sec: PeSection = {
        name: nul >= 0 ? rawName.slice(0, nul) : rawName,
        virtualSize: b.readUInt32LE(s + 8),
        virtualAddress: b.readUInt32LE(s + 12),
        rawSize: b.readUInt32LE(s + 16),
        rawOffset: b.readUInt32LE(s + 20),
        characteristics: hex(ch, 8),
        executable: (ch & (SCN_MEM_EXECUTE | SCN_CNT_CODE)) !== 0,
      };
      if (sec.rawSize > 0 && sec.rawOffset + sec.rawSize > fileSize)
        problems.push(
          `section ${sec.name} (raw data ${sec.rawOffset}+${sec.rawSize}) runs past the file end (${fileSize})`,
        );
      sections.push(sec);
    }
  const holder = sections.find(
    (s) => entry >= s.virtualAddress && entry < s.virtualAddress + Math.max(s.virtualSize, s.rawSize),
  );
  if (!holder) problems.push(`entry point ${hex(entry, 8)} lies in no section`);
  else if (!holder.executable)
    problems.push(`entry point ${hex(entry, 8)} lies in section ${holder.name}, which is not executable`);
  return {
    ok: true,
    pe: {
      machine,
      machineHex: hex(machine),
      machineName: MACHINES[machine] ?? 'unknown',
      magic,
      subsystem,
      subsystemName: SUBSYSTEMS[subsystem] ?? 'unknown',
      entryPoint: hex(entry, 8),
      entrySection: holder?.name ?? null,
      sections,
      problems,
    },
  };
}
