import {
  EFI_GLOBAL_VARIABLE_GUID,
  AUTH_VARIABLE_GUID,
  classifyFile,
  findFirmwareVolumes,
  ImageFormatError,
  parseVariableStore,
} from '@vmfarm/image';
import { authVariable, nvDataVolume } from '@vmfarm/image/testing';
import type { Target } from '../engine';
import { head } from '../fixtures';
import type { Seed } from '../mutate';

const COMPACT = 0x10000;

/** An NV firmware volume and its variable store resized to the buffer (PiFirmwareVolume.h fields). */
function compact(fv: Buffer): Buffer {
  const headerLength = fv.readUInt16LE(0x30);
  fv.writeBigUInt64LE(BigInt(fv.length), 0x20);
  fv.writeUInt32LE(fv.length / 0x1000, 0x38);
  fv.writeUInt32LE(0x1000, 0x3c);
  fv.writeUInt16LE(0, 0x32);
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum = (sum + fv.readUInt16LE(i)) & 0xffff;
  fv.writeUInt16LE((0x10000 - sum) & 0xffff, 0x32);
  fv.writeUInt32LE(fv.length - headerLength, headerLength + 16);
  return fv;
}

export const varstore: Target = {
  name: 'varstore',
  async seeds(): Promise<Seed[]> {
    const boot = authVariable({
      name: 'BootOrder',
      guid: EFI_GLOBAL_VARIABLE_GUID,
      data: Buffer.from([1, 0]),
    });
    const gone = authVariable({
      name: 'Boot0001',
      guid: EFI_GLOBAL_VARIABLE_GUID,
      data: Buffer.alloc(40, 7),
      state: 0x3c,
    });
    const seeds: Seed[] = [
      { name: 'generated-auth', data: nvDataVolume(AUTH_VARIABLE_GUID, [boot, gone]) },
      { name: 'generated-empty', data: nvDataVolume(AUTH_VARIABLE_GUID, []) },
    ];
    // Debian's AAVMF store with Microsoft's keys enrolled (22 variables; the plain AAVMF_VARS.fd
    // is all zeros until a first boot formats it), cut to its first 64 KiB (every variable is
    // there) with the volume and store resized to match: each input is a copy of its seed.
    const ms = await head('/usr/share/AAVMF/AAVMF_VARS.ms.fd', COMPACT);
    if (ms?.length === COMPACT) seeds.push({ name: 'AAVMF_VARS.ms.fd (first 64 KiB)', data: compact(ms) });
    return seeds.map((s) => ({ ...s, hot: [[0, Math.min(s.data.length, 0x4000)]] }));
  },
  dictionary: [
    Buffer.from('_FVH', 'latin1'),
    Buffer.from([0xaa, 0x55]),
    Buffer.from([0x3f]),
    Buffer.from([0x5a, 0xfe]),
  ],
  async run(input) {
    await parseVariableStore(input);
    // An ESP file's head goes through the firmware classifier too.
    findFirmwareVolumes(input.subarray(0, 64 * 1024));
    classifyFile('VARS.FD', input.length, input.subarray(0, 64 * 1024));
  },
  expected: (err) => err instanceof ImageFormatError,
};
