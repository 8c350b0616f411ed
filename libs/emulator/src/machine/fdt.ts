/**
 * Flattened device tree (DTB, version 17) serialisation of a tree of `FdtNode`s, as the machine
 * places it in guest RAM for the firmware. Property names share one strings block, as dtc and
 * libfdt write them.
 */
import type { FdtNode } from '../devices/device';

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_SIZE = 40;

type PropValue = FdtNode['props'][number][1];

const utf8 = new TextEncoder();

function encodeValue(v: PropValue): Uint8Array {
  if (v === null) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return utf8.encode(`${v}\0`);
  if (v.length > 0 && typeof v[0] === 'string')
    return utf8.encode((v as string[]).map((s) => `${s}\0`).join(''));
  const cells = v as number[];
  const out = new Uint8Array(cells.length * 4);
  const dv = new DataView(out.buffer);
  cells.forEach((c, i) => dv.setUint32(i * 4, c >>> 0));
  return out;
}

/** Splits a 64-bit quantity into two big-endian cells. */
export const cells64 = (v: number): number[] => [Math.floor(v / 2 ** 32) >>> 0, v >>> 0];

export function serializeFdt(root: FdtNode, bootCpuId = 0): Uint8Array {
  const struct: number[] = [];
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const push32 = (v: number) => struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const pushBytes = (b: Uint8Array) => {
    for (const x of b) struct.push(x);
    while (struct.length % 4 !== 0) struct.push(0);
  };
  const stringOffset = (name: string): number => {
    let off = stringOffsets.get(name);
    if (off === undefined) {
      off = strings.length;
      stringOffsets.set(name, off);
      for (const x of utf8.encode(`${name}\0`)) strings.push(x);
    }
    return off;
  };
  const emit = (node: FdtNode) => {
    push32(FDT_BEGIN_NODE);
    pushBytes(utf8.encode(`${node.name}\0`));
    for (const [name, value] of node.props) {
      const data = encodeValue(value);
      push32(FDT_PROP);
      push32(data.length);
      push32(stringOffset(name));
      pushBytes(data);
    }
    for (const child of node.children ?? []) emit(child);
    push32(FDT_END_NODE);
  };
  emit(root);
  push32(FDT_END);

  // Header, an empty memory reservation map (one terminating 16-byte entry), struct, strings.
  const offRsv = HEADER_SIZE;
  const offStruct = offRsv + 16;
  const offStrings = offStruct + struct.length;
  const total = offStrings + strings.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const header = [
    FDT_MAGIC,
    total,
    offStruct,
    offStrings,
    offRsv,
    17,
    16,
    bootCpuId,
    strings.length,
    struct.length,
  ];
  header.forEach((v, i) => dv.setUint32(i * 4, v));
  out.set(struct, offStruct);
  out.set(strings, offStrings);
  return out;
}
