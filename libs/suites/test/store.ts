/** The fake VM's variable store written as edk2 writes it, for the store parser of @vmfarm/image to read. */
import { AUTH_VARIABLE_GUID, guidBytes, NV_DATA_FV_GUID } from '@vmfarm/image';
import type { StoredVariable } from '@vmfarm/session/testing';

const align4 = (n: number) => (n + 3) & ~3;

/** One authenticated variable (VariableFormat.h), as libs/image/test builds them. */
function authVar({ name, guid, data, attributes }: StoredVariable): Buffer {
  const n = Buffer.from(`${name}\0`, 'utf16le');
  const b = Buffer.alloc(align4(60 + n.length + data.length), 0xff);
  b.fill(0, 0, 60);
  b.writeUInt16LE(0x55aa, 0);
  b[2] = 0x3f; // VAR_ADDED
  b.writeUInt32LE(attributes, 4);
  b.writeUInt32LE(n.length, 0x24);
  b.writeUInt32LE(data.length, 0x28);
  guidBytes(guid).copy(b, 0x2c);
  n.copy(b, 60);
  data.copy(b, 60 + n.length);
  return b;
}

/** An NV-data firmware volume (checksummed header) holding a formatted, healthy authenticated store. */
export function buildStore(vars: readonly StoredVariable[], fvLength = 0x10000): Buffer {
  const b = Buffer.alloc(fvLength, 0xff);
  b.fill(0, 0, 0x48 + 28);
  guidBytes(NV_DATA_FV_GUID).copy(b, 0x10);
  b.writeBigUInt64LE(BigInt(fvLength), 0x20);
  b.write('_FVH', 0x28, 'latin1');
  b.writeUInt32LE(0xe36, 0x2c);
  b.writeUInt16LE(0x48, 0x30);
  b[0x37] = 2;
  b.writeUInt32LE(fvLength / 0x1000, 0x38);
  b.writeUInt32LE(0x1000, 0x3c);
  let sum = 0;
  for (let i = 0; i < 0x48; i += 2) sum = (sum + b.readUInt16LE(i)) & 0xffff;
  b.writeUInt16LE((0x10000 - sum) & 0xffff, 0x32);
  guidBytes(AUTH_VARIABLE_GUID).copy(b, 0x48);
  b.writeUInt32LE(fvLength - 0x48, 0x58);
  b[0x5c] = 0x5a; // formatted
  b[0x5d] = 0xfe; // healthy
  Buffer.concat(vars.map(authVar)).copy(b, 0x64);
  return b;
}
