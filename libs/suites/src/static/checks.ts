import type { Arch, VerdictRecord } from '@vmfarm/protocol';
import {
  analyzeGpt,
  classifyFile,
  ESP_TYPE_GUID,
  FatVolume,
  FV_SCAN_BYTES,
  ImageFormatError,
  overlapping,
  parsePe,
  partitionRange,
  peHeaderBytes,
  REMOVABLE_PATHS,
  SliceSource,
  type FatEntry,
  type GptHeaderInfo,
} from '@vmfarm/image';
import type { Inspection } from './inspection';
import { summarizeProblems, verdict } from './verdicts';

/** What a UEFI application for each architecture must declare. */
const EXPECTED_PE: Record<Arch, { machine: number; magic: string; label: string }> = {
  aarch64: { machine: 0xaa64, magic: 'PE32+', label: '0xAA64 (aarch64)' },
  aarch32: { machine: 0x01c2, magic: 'PE32', label: '0x01C2 (ARM Thumb/ARM mixed)' },
};

/** Walk bounds: an ESP is small; a hostile one must not make the check slow. */
const WALK_LIMITS = { maxEntries: 5000, maxDepth: 16 };
/** Bytes of ESP file heads read in full-width firmware scans. */
const SCAN_BUDGET = 64 * 1024 * 1024;

function headerEvidence(h: GptHeaderInfo | null) {
  if (!h) return null;
  return {
    lba: h.lba,
    myLba: h.myLba,
    alternateLba: h.alternateLba,
    firstUsableLba: h.firstUsableLba,
    lastUsableLba: h.lastUsableLba,
    entriesLba: h.entriesLba,
    entryCount: h.entryCount,
    entrySize: h.entrySize,
    headerSize: h.headerSize,
    headerCrc: h.headerCrc,
    entriesCrc: h.entriesCrc,
    diskGuid: h.diskGuid,
  };
}

export async function checkGpt(s: Inspection): Promise<VerdictRecord> {
  const g = await analyzeGpt(s.disk);
  s.gpt = g;
  if (g.partitions.length === 0) s.gptUnusable = g.problems[0] ?? 'the GPT lists no partitions';
  const evidence = {
    diskSize: s.disk.size,
    sectorSize: g.sectorSize,
    protectiveMbr: g.protectiveMbr,
    primary: headerEvidence(g.primary),
    backup: headerEvidence(g.backup),
    partitionsFrom: g.partitionsFrom,
    partitions: g.partitions.map((p) => ({
      index: p.index,
      type: p.typeGuid,
      firstLba: p.firstLba,
      lastLba: p.lastLba,
      name: p.name,
    })),
    problems: g.problems,
    // Placement of partitions is IMG-ESP's business (for the ESP); shown here, not failed here.
    partitionProblems: g.partitionProblems,
  };
  if (g.problems.length) return verdict('IMG-GPT', 'FAIL', summarizeProblems(g.problems), evidence);
  return verdict(
    'IMG-GPT',
    'PASS',
    `valid GPT with ${g.sectorSize}-byte sectors: protective MBR, primary at LBA 1 and backup at LBA ${g.backup?.lba}, CRCs correct, ${g.partitions.length} partition(s)`,
    evidence,
  );
}

export async function checkEsp(s: Inspection): Promise<VerdictRecord> {
  const g = s.gpt;
  if (!g || s.gptUnusable) {
    s.espMissing = `no partition table could be read (${s.gptUnusable})`;
    return verdict('IMG-ESP', 'FAIL', `no EFI System Partition can be found: ${s.espMissing}`);
  }
  const esps = g.partitions.filter((p) => p.typeGuid === ESP_TYPE_GUID);
  if (esps.length === 0) {
    s.espMissing = `no GPT entry has the ESP type GUID ${ESP_TYPE_GUID}`;
    return verdict('IMG-ESP', 'FAIL', `no EFI System Partition: ${s.espMissing}`, {
      partitionTypes: g.partitions.map((p) => ({ index: p.index, type: p.typeGuid, name: p.name })),
    });
  }
  const p = esps[0];
  const ss = g.sectorSize as number;
  const header = (g.partitionsFrom === 'backup' ? g.backup : g.primary) as GptHeaderInfo;
  const problems: string[] = [];
  if (p.firstLba > p.lastLba) problems.push(`the ESP (entry ${p.index}) ends before it starts`);
  else if (p.firstLba < header.firstUsableLba || p.lastLba > header.lastUsableLba)
    problems.push(
      `the ESP (LBA ${p.firstLba}..${p.lastLba}) lies outside the usable range ${header.firstUsableLba}..${header.lastUsableLba}`,
    );
  for (const q of overlapping(p, g.partitions))
    problems.push(
      `the ESP (LBA ${p.firstLba}..${p.lastLba}) overlaps partition ${q.index} (LBA ${q.firstLba}..${q.lastLba})`,
    );
  const evidence: Record<string, unknown> = {
    index: p.index,
    firstLba: p.firstLba,
    lastLba: p.lastLba,
    sectorSize: ss,
    name: p.name,
    uniqueGuid: p.uniqueGuid,
    espCount: esps.length,
    problems,
  };
  if (p.firstLba <= p.lastLba) {
    const range = partitionRange(p, ss);
    evidence.byteOffset = range.offset;
    evidence.bytes = range.length;
    if (range.offset + range.length > s.disk.size) {
      problems.push(
        `the ESP ends at byte ${range.offset + range.length}, past the image end (${s.disk.size})`,
      );
      s.espMissing = 'the ESP lies past the end of the image';
    } else s.esp = { partition: p, ...range };
  } else s.espMissing = 'the ESP has an impossible LBA range';
  if (problems.length) return verdict('IMG-ESP', 'FAIL', summarizeProblems(problems), evidence);
  return verdict(
    'IMG-ESP',
    'PASS',
    `EFI System Partition is entry ${p.index}, LBA ${p.firstLba}..${p.lastLba}, inside the usable range, no overlap`,
    evidence,
  );
}

export async function checkEspFat(s: Inspection): Promise<VerdictRecord> {
  if (!s.esp) {
    s.fatMissing = `there is no usable ESP (${s.espMissing})`;
    return verdict('IMG-ESP-FAT', 'FAIL', `no FAT file system can be checked: ${s.fatMissing}`);
  }
  const fat = await FatVolume.open(new SliceSource(s.disk, s.esp.offset, s.esp.length)).catch(
    (err: Error) => {
      s.fatMissing = `the ESP holds no readable FAT file system (${err.message})`;
      throw err;
    },
  );
  s.fat = fat;
  const { layout } = fat;
  const unreadable = (err: Error): never => {
    s.fatMissing = `the ESP's file system cannot be read (${err.message})`;
    throw err;
  };
  const problems = [...layout.problems, ...(await fat.compareFats().catch(unreadable))];
  const walk = await fat.walk(WALK_LIMITS).catch(unreadable);
  problems.push(...walk.problems);
  if (walk.truncated)
    problems.push(
      `the ESP holds more than ${WALK_LIMITS.maxEntries} entries or ${WALK_LIMITS.maxDepth} levels`,
    );
  s.files = [];
  let budget = SCAN_BUDGET;
  for (const entry of walk.entries.filter((e) => !e.isDirectory)) {
    let head: Buffer = Buffer.alloc(0);
    try {
      // Past the budget only offsets 0 and 0x1000 are looked at (the edk2 layouts).
      const want = budget > 0 ? FV_SCAN_BYTES : 0x1000 + 0x38;
      if (entry.size >= 0x38) head = await fat.readFile(entry, want);
      budget -= head.length;
    } catch (err) {
      if (!(err instanceof ImageFormatError)) throw err;
      problems.push(err.message);
    }
    s.files.push({ entry, found: classifyFile(entry.name, entry.size, head) });
  }
  if (layout.type !== 'FAT32')
    problems.unshift(
      `the ESP holds ${layout.type} (${layout.clusterCount} clusters): UEFI 2.4A 12.3.1.1 requires FAT32 (a deviation)`,
    );
  const evidence = {
    fatType: layout.type,
    clusterCount: layout.clusterCount,
    clusterSize: layout.clusterSize,
    bytesPerSector: layout.bpb.bytesPerSector,
    sectorsPerCluster: layout.bpb.sectorsPerCluster,
    reservedSectors: layout.bpb.reservedSectors,
    fatCount: layout.bpb.fatCount,
    fatSectors: layout.bpb.fatSectors,
    totalSectors: layout.bpb.totalSectors,
    rootCluster: layout.bpb.rootCluster,
    signature: layout.bpb.signature,
    oemName: layout.bpb.oemName,
    entries: walk.entries.length,
    problems,
  };
  if (problems.length) return verdict('IMG-ESP-FAT', 'FAIL', summarizeProblems(problems), evidence);
  return verdict(
    'IMG-ESP-FAT',
    'PASS',
    `the ESP holds FAT32 (${layout.clusterCount} clusters of ${layout.clusterSize} bytes), ${layout.bpb.fatCount} FAT copies agree`,
    evidence,
  );
}

async function listBootDir(s: Inspection): Promise<string[] | null> {
  const dir = await s.fat?.lookup('\\EFI\\BOOT');
  if (!dir || !dir.isDirectory) return null;
  return (await (s.fat as FatVolume).list(dir)).map((e) => e.name);
}

export async function checkRemovablePath(s: Inspection): Promise<VerdictRecord> {
  if (!s.fat) {
    s.bootMissing = `the ESP has no readable file system (${s.fatMissing})`;
    return verdict(
      'IMG-REMOVABLE-PATH',
      'FAIL',
      `the removable-media path cannot be looked up: ${s.bootMissing}`,
    );
  }
  const fat = s.fat;
  const found: Partial<Record<Arch, FatEntry>> = {};
  for (const arch of ['aarch64', 'aarch32'] as const) {
    const e = await fat.lookup(REMOVABLE_PATHS[arch]).catch((err: Error) => {
      s.bootMissing = `${REMOVABLE_PATHS[arch]} cannot be looked up (${err.message})`;
      throw err;
    });
    if (e) found[arch] = e;
  }
  const arch = s.declaredArch ?? (found.aarch64 ? 'aarch64' : found.aarch32 ? 'aarch32' : null);
  const archSource = s.declaredArch ? 'declared' : 'detected';
  s.arch = arch;
  const entry = arch ? found[arch] : undefined;
  if (!arch || !entry) {
    const other = s.declaredArch && found[s.declaredArch === 'aarch64' ? 'aarch32' : 'aarch64'];
    const bootDir = await listBootDir(s);
    s.bootMissing = arch
      ? `${REMOVABLE_PATHS[arch]} is missing`
      : `neither ${REMOVABLE_PATHS.aarch64} nor ${REMOVABLE_PATHS.aarch32} exists`;
    return verdict(
      'IMG-REMOVABLE-PATH',
      'FAIL',
      `${s.bootMissing}${other ? ` (${other.path} is present, but the architecture is declared ${arch})` : ''}`,
      {
        arch,
        archSource,
        expected: arch ? REMOVABLE_PATHS[arch] : Object.values(REMOVABLE_PATHS),
        efiBootDirectory: bootDir,
      },
    );
  }
  const evidence = {
    arch,
    archSource,
    path: entry.path,
    longName: entry.longName,
    shortName: entry.shortName,
    size: entry.size,
    ...(!s.declaredArch && found.aarch64 && found.aarch32 ? { alsoPresent: found.aarch32.path } : {}),
  };
  if (entry.isDirectory) {
    s.bootMissing = `${entry.path} is a directory`;
    return verdict('IMG-REMOVABLE-PATH', 'FAIL', `${entry.path} is a directory, not a file`, evidence);
  }
  s.bootFile = entry;
  return verdict(
    'IMG-REMOVABLE-PATH',
    'PASS',
    `${entry.path} found (${entry.size} bytes, arch ${arch} ${archSource})`,
    evidence,
  );
}

export async function checkEfiApp(s: Inspection): Promise<VerdictRecord> {
  const e = s.bootFile;
  if (!e || !s.fat || !s.arch)
    return verdict(
      'IMG-EFI-APP',
      'FAIL',
      `no EFI application to check: ${s.bootMissing ?? 'no removable-media path'}`,
    );
  const fat = s.fat;
  // The whole chain must be there, not only the headers we read.
  const cs = fat.layout.clusterSize;
  if (e.size > 0) await fat.chain(e.firstCluster, Math.ceil(e.size / cs), fat.layout.clusterCount, e.path);
  let head = await fat.readFile(e, 4096);
  const need = Math.min(peHeaderBytes(head), e.size, 1024 * 1024);
  if (need > head.length) head = await fat.readFile(e, need);
  const parsed = parsePe(head, e.size);
  const base = { path: e.path, size: e.size, arch: s.arch };
  if (!parsed.ok)
    return verdict('IMG-EFI-APP', 'FAIL', `${e.path} is not a PE/COFF image: ${parsed.reason}`, base);
  const pe = parsed.pe;
  const want = EXPECTED_PE[s.arch];
  const problems = [...pe.problems];
  if (pe.machine !== want.machine)
    problems.unshift(`machine is ${pe.machineHex} (${pe.machineName}), ${s.arch} needs ${want.label}`);
  if (pe.magic !== want.magic) problems.push(`optional header is ${pe.magic}, ${s.arch} needs ${want.magic}`);
  if (pe.subsystem !== 10)
    problems.push(`subsystem is ${pe.subsystem} (${pe.subsystemName}), not 10 (EFI application)`);
  const evidence = {
    ...base,
    machine: pe.machineHex,
    machineName: pe.machineName,
    magic: pe.magic,
    subsystem: pe.subsystem,
    subsystemName: pe.subsystemName,
    entryPoint: pe.entryPoint,
    entrySection: pe.entrySection,
    sections: pe.sections.map((x) => `${x.name}@${x.virtualAddress.toString(16)}:${x.characteristics}`),
    problems,
  };
  if (problems.length)
    return verdict('IMG-EFI-APP', 'FAIL', `${e.path}: ${summarizeProblems(problems)}`, evidence);
  return verdict(
    'IMG-EFI-APP',
    'PASS',
    `${e.path} is a ${pe.magic} EFI application for ${pe.machineHex} (${s.arch}), entry ${pe.entryPoint} in ${pe.entrySection}`,
    evidence,
  );
}

/**
 * These two clauses forbid something: with no ESP file system there is nothing to search, which is
 * a SKIP with the reason (the clauses that require the ESP already FAIL), never a silent PASS.
 */
function noFiles(s: Inspection, clauseId: string): VerdictRecord | null {
  if (s.files) return null;
  return verdict(clauseId, 'SKIP', `nothing to search: ${s.fatMissing ?? 'no usable ESP'}`);
}

/** The ESP files in which the scan found variable stores or firmware volumes, as evidence. */
function filesCarrying(files: NonNullable<Inspection['files']>, kind: 'variables' | 'firmware') {
  return files
    .filter((f) => f.found[kind].length)
    .map((f) => ({
      path: f.entry.path,
      shortName: f.entry.shortName,
      size: f.entry.size,
      why: f.found[kind],
    }));
}

export async function checkNoVars(s: Inspection): Promise<VerdictRecord> {
  const blocked = noFiles(s, 'IMG-NO-VARS');
  if (blocked) return blocked;
  const files = s.files ?? [];
  const found = filesCarrying(files, 'variables');
  if (found.length)
    return verdict(
      'IMG-NO-VARS',
      'FAIL',
      `the ESP carries a UEFI variable store: ${found.map((f) => `${f.path} (${f.why[0]})`).join(', ')}`,
      { found },
    );
  return verdict(
    'IMG-NO-VARS',
    'PASS',
    `no variable store or NvVars file among the ${files.length} ESP files`,
    {
      filesScanned: files.length,
      note: 'BootOrder and Boot#### are UEFI variables of the VM instance; a disk image cannot hold them, so only files that carry a variable store (NvVars, edk2 variable-store volumes) are checked',
    },
  );
}

export async function checkFwNotBundled(s: Inspection): Promise<VerdictRecord> {
  const blocked = noFiles(s, 'IMG-FW-NOT-BUNDLED');
  if (blocked) return blocked;
  const files = s.files ?? [];
  const found = filesCarrying(files, 'firmware');
  if (found.length)
    return verdict(
      'IMG-FW-NOT-BUNDLED',
      'FAIL',
      `the image ships UEFI firmware: ${found.map((f) => `${f.path} (${f.why[0]})`).join(', ')}`,
      { found },
    );
  return verdict('IMG-FW-NOT-BUNDLED', 'PASS', `no firmware volume among the ${files.length} ESP files`, {
    filesScanned: files.length,
  });
}

/** The clauses in evaluation order: each may use what the earlier ones found. */
export const CHECKS: ReadonlyArray<[string, (s: Inspection) => Promise<VerdictRecord>]> = [
  ['IMG-GPT', checkGpt],
  ['IMG-ESP', checkEsp],
  ['IMG-ESP-FAT', checkEspFat],
  ['IMG-REMOVABLE-PATH', checkRemovablePath],
  ['IMG-EFI-APP', checkEfiApp],
  ['IMG-NO-VARS', checkNoVars],
  ['IMG-FW-NOT-BUNDLED', checkFwNotBundled],
];
