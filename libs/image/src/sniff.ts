/**
 * The one place that tells what a file is from its first bytes: how it is compressed (gzip, xz or
 * not) and which disk format it holds (qcow2 or raw). Uploads, `vmfarm check`, the static reader
 * and the live suites all ask here.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export type Container = 'raw' | 'gz' | 'xz';
export type DiskFormat = 'raw' | 'qcow2';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
const GZ_MAGIC = Buffer.from([0x1f, 0x8b]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** How many leading bytes the sniffers look at. */
export const SNIFF_BYTES = 8;

/** gzip or xz by magic; anything else is taken as uncompressed. */
export function sniffContainer(head: Buffer): Container {
  if (head.subarray(0, 2).equals(GZ_MAGIC)) return 'gz';
  if (head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  return 'raw';
}

/** qcow2 by magic (of decompressed bytes); anything else is a raw disk. */
export function sniffFormat(head: Buffer): DiskFormat {
  return head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
}

/** The first SNIFF_BYTES of a file (fewer when it is shorter). */
export function sniffHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    return head.subarray(0, readSync(fd, head, 0, SNIFF_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}
