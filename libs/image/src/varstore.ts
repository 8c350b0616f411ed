import { AUTH_VARIABLE_GUID, NV_DATA_FV_GUID, VARIABLE_GUID } from './firmware';
import { formatGuid } from './guid';
import { BufferSource, MAX_READ, type BlockSource } from './source';

/**
 * The edk2 UEFI variable store (a VM's NVRAM file, `*_VARS.fd`): an NV-data firmware volume
 * holding a VARIABLE_STORE_HEADER and the variables, authenticated (AAVMF, OVMF with Secure Boot)
 * or plain. Read-only and bounded: a damaged store yields `problems`, never an exception.
 */

export const EFI_GLOBAL_VARIABLE_GUID = '8BE4DF61-93CA-11D2-AA0D-00E098032B8C';
export const IMAGE_SECURITY_DATABASE_GUID = 'D719B2CB-3D3A-4596-A3BC-DAD00E67656F';

/** Vendor GUIDs of the variables edk2 guests hold (those seen in Debian's AAVMF stores and more). */
export const VENDOR_GUID_NAMES: Readonly<Record<string, string>> = {
  [EFI_GLOBAL_VARIABLE_GUID]: 'EFI global',
  [IMAGE_SECURITY_DATABASE_GUID]: 'image security database',
  'D9BEE56E-75DC-49D9-B4D7-B534210F637A': 'edk2 certificate database',
  'C076EC0C-7028-4399-A072-71EE5C448B9F': 'edk2 Secure Boot custom mode',
  'F0A30BC7-AF08-4556-99C4-001009C93A44': 'edk2 Secure Boot enable',
  '9073E4E0-60EC-4B6E-9903-4C223C260F3C': 'edk2 vendor keys',
  'EB704011-1402-11D3-8E77-00A0C969723B': 'monotonic counter',
  '04B37FE8-F6AE-480B-BDD5-37D98C5E89AA': 'edk2 variable error flag',
  '4C19049F-4137-4DD3-9C10-8B97A83FFDFA': 'memory type information',
  '5B446ED1-E30B-4FAA-871A-3654ECA36080': 'IPv4 configuration',
  '937FE521-95AE-4D1A-8929-48BCD90AD31A': 'IPv6 configuration',
  '9FB9A8A1-2F4A-43A6-889C-D0F7B6C47AD5': 'DHCPv6',
  '605DAB50-E046-4300-ABB6-3DD810DD8B23': 'shim',
  '4A67B082-0A4C-41CF-B6C7-440B29BB8C4F': 'systemd-boot loader',
};

/** EFI_VARIABLE_* attribute bits, in bit order. */
const ATTRIBUTE_NAMES = ['NV', 'BS', 'RT', 'HR', 'AW', 'AT', 'AP', 'EA'];

/** Variable State values: bits are cleared one by one as a write or delete progresses. */
export const VAR_HEADER_VALID_ONLY = 0x7f;
export const VAR_ADDED = 0x3f;
export const VAR_DELETED = 0xfd;
export const VAR_IN_DELETED_TRANSITION = 0xfe;
const VAR_ADDED_IN_TRANSITION = VAR_ADDED & VAR_IN_DELETED_TRANSITION;

const FV_MIN_HEADER = 0x48; // fixed part (0x38) + one block map entry + the terminator
const STORE_HEADER_SIZE = 28; // Signature GUID, Size u32, Format, State, Reserved u16, Reserved1 u32
const FORMATTED = 0x5a;
const HEALTHY = 0xfe;
const START_ID = 0x55aa;
const AUTH_HEADER_SIZE = 60;
const PLAIN_HEADER_SIZE = 32;
const HEAD_BYTES = 64 * 1024;

export interface UefiVariable {
  name: string;
  /** Vendor GUID, canonical upper-case text. */
  guid: string;
  /** What the vendor GUID is, when it is a well-known one. */
  vendor?: string;
  attributes: number;
  /** NV, BS, RT, HR, AW, AT, AP, EA; unknown bits as hex. */
  attributeNames: string[];
  dataSize: number;
  data: Buffer;
  /** VAR_ADDED, or VAR_ADDED & VAR_IN_DELETED_TRANSITION for an update interrupted before its new copy. */
  state: number;
  /** Offset of the variable header in the input. */
  offset: number;
  /** Authenticated format, time-based authenticated variables: when the value was signed (UTC). */
  timeStamp?: string;
}

export interface VariableStore {
  /** `firmware-volume`: the NV-data volume edk2 flash uses; `bare`: a store header at offset 0. */
  container: 'firmware-volume' | 'bare' | 'none';
  format: 'authenticated' | 'plain' | null;
  /** The start of the input is all 0x00 or all 0xFF: never formatted (edk2 formats it on first boot). */
  blank: boolean;
  /** Offset of the VARIABLE_STORE_HEADER in the input (-1 without one). */
  storeOffset: number;
  /** The store's Size field: header and variable area. */
  storeSize: number;
  /** Bytes from the store header to the end of the last variable record. */
  usedBytes: number;
  /** The live variables, in store order: what GetVariable sees. */
  variables: UefiVariable[];
  /** Records deleted or superseded by a newer copy. */
  deletedCount: number;
  /** Records whose write never completed (State not yet VAR_ADDED). */
  incompleteCount: number;
  problems: string[];
}

export function vendorName(guid: string): string | undefined {
  return VENDOR_GUID_NAMES[guid.toUpperCase()];
}

export function attributeNames(attributes: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const mask = 2 ** bit;
    if (Math.floor(attributes / mask) % 2 === 1) out.push(ATTRIBUTE_NAMES[bit] ?? `0x${mask.toString(16)}`);
  }
  return out;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function sum16(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s = (s + b.readUInt16LE(i)) & 0xffff;
  return s;
}

/** Where `b` first holds a byte other than `value`, or -1: compared a block at a time (stores are MiBs). */
function firstOther(b: Buffer, value: number): number {
  const block = Buffer.alloc(Math.min(b.length, 4096), value);
  for (let off = 0; off < b.length; off += block.length) {
    const part = b.subarray(off, off + block.length);
    if (part.equals(block.subarray(0, part.length))) continue;
    for (let i = 0; i < part.length; i++) if (part[i] !== value) return off + i;
  }
  return -1;
}

function allBytes(b: Buffer, value: number): boolean {
  return b.length > 0 && firstOther(b, value) < 0;
}

/** EFI_TIME as ISO text; undefined when unset (all zero) or not a date. */
function efiTime(b: Buffer, at: number): string | undefined {
  const year = b.readUInt16LE(at);
  const [month, day, hour, minute, second] = [2, 3, 4, 5, 6].map((i) => b[at + i]);
  if (year === 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return undefined;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(year, 4)}-${p(month)}-${p(day)}T${p(hour)}:${p(minute)}:${p(second)}Z`;
}

function emptyStore(problems: string[], blank = false): VariableStore {
  return {
    container: 'none',
    format: null,
    blank,
    storeOffset: -1,
    storeSize: 0,
    usedBytes: 0,
    variables: [],
    deletedCount: 0,
    incompleteCount: 0,
    problems,
  };
}

/** Where the store header is and how many bytes after it may belong to the store. */
interface Located {
  container: 'firmware-volume' | 'bare';
  storeOffset: number;
  /** FvLength: where the enclosing volume ends (bare: no bound but the input). */
  fvEnd: number;
}

/** The NV-data firmware volume at offset 0 (what edk2's flash driver validates), or a bare store header. */
function locate(head: Buffer, size: number, problems: string[]): Located | undefined {
  if (head.length >= 0x38 && head.toString('latin1', 0x28, 0x2c) === '_FVH') {
    const guid = formatGuid(head, 0x10);
    if (guid !== NV_DATA_FV_GUID) {
      problems.push(`the firmware volume at offset 0 is not a variable store (file system GUID ${guid})`);
      return undefined;
    }
    const fvLength = Number(head.readBigUInt64LE(0x20));
    const headerLength = head.readUInt16LE(0x30);
    if (
      headerLength < FV_MIN_HEADER ||
      headerLength % 2 !== 0 ||
      headerLength + STORE_HEADER_SIZE > head.length
    ) {
      problems.push(`firmware volume header length ${headerLength} is invalid`);
      return undefined;
    }
    const sum = sum16(head.subarray(0, headerLength));
    if (sum !== 0)
      problems.push(`firmware volume header checksum is wrong (16-bit sum ${hex(sum)}, must be 0)`);
    const revision = head[0x37];
    if (revision !== 2) problems.push(`firmware volume revision is ${revision}, edk2 expects 2`);
    if (fvLength < headerLength + STORE_HEADER_SIZE)
      problems.push(`firmware volume length ${fvLength} cannot hold a variable store`);
    else if (fvLength > size)
      problems.push(`truncated: the firmware volume declares ${fvLength} bytes, the input has ${size}`);
    return { container: 'firmware-volume', storeOffset: headerLength, fvEnd: fvLength };
  }
  if (head.length >= STORE_HEADER_SIZE) {
    const g = formatGuid(head, 0);
    if (g === VARIABLE_GUID || g === AUTH_VARIABLE_GUID)
      return { container: 'bare', storeOffset: 0, fvEnd: Infinity };
  }
  return undefined;
}

interface RawRecord {
  offset: number;
  state: number;
  attributes: number;
  name: string;
  guid: string;
  data: Buffer;
  timeStamp?: string;
}

/** Walks the variable records of `store` (the store header at input offset `base`). */
function walk(
  store: Buffer,
  base: number,
  auth: boolean,
  problems: string[],
): { records: RawRecord[]; end: number } {
  const hdr = auth ? AUTH_HEADER_SIZE : PLAIN_HEADER_SIZE;
  const sizesAt = auth ? 0x24 : 0x08;
  const align4 = (n: number) => n + ((4 - ((base + n) % 4)) % 4);
  const records: RawRecord[] = [];
  let off = align4(STORE_HEADER_SIZE);
  // Each record advances `off` by at least a header: the walk ends within store.length / hdr steps.
  while (off + hdr <= store.length && store.readUInt16LE(off) === START_ID) {
    const state = store[off + 2];
    const attributes = store.readUInt32LE(off + 4);
    let nameSize = store.readUInt32LE(off + sizesAt);
    let dataSize = store.readUInt32LE(off + sizesAt + 4);
    // edk2 reads all-ones fields as a header whose write was cut short: no name, no data.
    if (state === 0xff || attributes === 0xffffffff || nameSize === 0xffffffff || dataSize === 0xffffffff)
      nameSize = dataSize = 0;
    const nameAt = off + hdr;
    const dataAt = nameAt + nameSize;
    if (dataAt + dataSize > store.length) {
      problems.push(
        `truncated: the variable at offset ${hex(base + off)} (NameSize ${nameSize}, DataSize ${dataSize}) ` +
          `passes the end of the store at ${hex(base + store.length)}`,
      );
      return { records, end: store.length };
    }
    const rawName = store.subarray(nameAt, dataAt);
    const nul = rawName.findIndex(
      (_, i) => i % 2 === 0 && i + 1 < rawName.length && rawName.readUInt16LE(i) === 0,
    );
    if (nameSize > 0 && (nameSize % 2 !== 0 || nul < 0))
      problems.push(`the variable at offset ${hex(base + off)} has a name that is not NUL-terminated UCS-2`);
    records.push({
      offset: base + off,
      state,
      attributes,
      name: rawName.toString('utf16le', 0, nul < 0 ? rawName.length - (rawName.length % 2) : nul),
      guid: formatGuid(store, off + hdr - 16),
      data: Buffer.from(store.subarray(dataAt, dataAt + dataSize)),
      timeStamp: auth ? efiTime(store, off + 0x10) : undefined,
    });
    off = align4(dataAt + dataSize);
  }
  if (off + 2 <= store.length && off + hdr > store.length && store.readUInt16LE(off) === START_ID) {
    problems.push(`truncated: the variable header at offset ${hex(base + off)} passes the end of the store`);
    return { records, end: store.length };
  }
  return { records, end: Math.min(off, store.length) };
}

/**
 * Parses a variable store: a whole `*_VARS.fd` file (or any BlockSource over one), or the bytes of
 * one. Live variables follow edk2's rule: State VAR_ADDED, or VAR_ADDED & VAR_IN_DELETED_TRANSITION
 * when no VAR_ADDED copy of the same name and vendor GUID exists.
 */
export async function parseVariableStore(input: Buffer | BlockSource): Promise<VariableStore> {
  const src = Buffer.isBuffer(input) ? new BufferSource(input) : input;
  const head = await src.read(0, Math.min(src.size, HEAD_BYTES));
  const problems: string[] = [];
  const where = locate(head, src.size, problems);
  if (!where) {
    if (allBytes(head, 0) || allBytes(head, 0xff)) return emptyStore([], true);
    if (problems.length === 0)
      problems.push(
        head.length < STORE_HEADER_SIZE
          ? `truncated: ${head.length} bytes cannot hold a variable store`
          : 'no variable store: neither an NV-data firmware volume (_FVH) nor a variable store header at offset 0',
      );
    return emptyStore(problems);
  }

  const { storeOffset, fvEnd } = where;
  const sig = head.subarray(storeOffset, storeOffset + 16);
  const sigGuid = formatGuid(sig);
  const format =
    sigGuid === AUTH_VARIABLE_GUID ? 'authenticated' : sigGuid === VARIABLE_GUID ? 'plain' : null;
  const storeSize = head.readUInt32LE(storeOffset + 16);
  const result: VariableStore = {
    ...emptyStore(problems),
    container: where.container,
    format,
    storeOffset,
    storeSize,
  };
  if (!format) {
    problems.push(
      allBytes(head.subarray(storeOffset, storeOffset + STORE_HEADER_SIZE), 0xff)
        ? 'the variable store header is erased (the store was never formatted)'
        : `unknown variable store signature ${sigGuid}`,
    );
    return result;
  }
  const fmt = head[storeOffset + 20];
  const state = head[storeOffset + 21];
  if (fmt !== FORMATTED)
    problems.push(`the variable store is not formatted (Format ${hex(fmt)}, must be 0x5a)`);
  if (state !== HEALTHY)
    problems.push(`the variable store is not healthy (State ${hex(state)}, must be 0xfe)`);
  if (storeSize < STORE_HEADER_SIZE) {
    problems.push(`variable store size ${storeSize} is smaller than its header`);
    return result;
  }

  let length = storeSize;
  if (storeOffset + storeSize > fvEnd && fvEnd >= storeOffset + STORE_HEADER_SIZE) {
    problems.push(`variable store size ${storeSize} passes the end of its firmware volume (${fvEnd} bytes)`);
    length = fvEnd - storeOffset;
  }
  if (storeOffset + length > src.size) {
    problems.push(
      `truncated: the variable store ends at ${storeOffset + length}, the input has ${src.size} bytes`,
    );
    length = src.size - storeOffset;
  }
  if (length > MAX_READ) {
    problems.push(
      `variable store size ${storeSize} is beyond the ${MAX_READ}-byte limit; reading only that much`,
    );
    length = MAX_READ;
  }
  const store = await src.read(storeOffset, length);
  const { records, end } = walk(store, storeOffset, format === 'authenticated', problems);
  result.usedBytes = end;

  const free = store.subarray(end);
  const dirty = firstOther(free, 0xff);
  if (dirty >= 0)
    problems.push(
      `the free space of the store is not erased at offset ${hex(storeOffset + end + dirty)} ` +
        `(a damaged or partly written variable; edk2 reclaims the store on the next boot)`,
    );

  const key = (r: RawRecord) => `${r.guid}/${r.name}`;
  const added = new Set(records.filter((r) => r.state === VAR_ADDED).map(key));
  for (const r of records) {
    const live = r.state === VAR_ADDED || (r.state === VAR_ADDED_IN_TRANSITION && !added.has(key(r)));
    if (live) {
      const v: UefiVariable = {
        name: r.name,
        guid: r.guid,
        attributes: r.attributes,
        attributeNames: attributeNames(r.attributes),
        dataSize: r.data.length,
        data: r.data,
        state: r.state,
        offset: r.offset,
      };
      const vendor = vendorName(r.guid);
      if (vendor) v.vendor = vendor;
      if (r.timeStamp) v.timeStamp = r.timeStamp;
      result.variables.push(v);
    } else if ((r.state & VAR_DELETED) === r.state || r.state === VAR_ADDED_IN_TRANSITION) {
      result.deletedCount++;
    } else {
      result.incompleteCount++;
    }
  }
  return result;
}
