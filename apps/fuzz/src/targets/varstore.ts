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
    // Debian's AAVMF variable stores: the empty one and the one with Microsoft's keys enrolled
    // (the NV firmware volume only: 768 KiB of the 64 MiB file).
    for (const f of ['AAVMF_VARS.fd', 'AAVMF_VARS.ms.fd']) {
      const data = await head(`/usr/share/AAVMF/${f}`, 0xc0000);
      if (data) seeds.push({ name: f, data });
    }
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
