import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyFile, FFS2_GUID, findFirmwareVolumes, guidBytes, NV_DATA_FV_GUID } from '../src';

function fv(guid: string, at = 0): Buffer {
  const b = Buffer.alloc(at + 0x1000);
  guidBytes(guid).copy(b, at + 0x10);
  b.writeBigUInt64LE(0x200000n, at + 0x20);
  b.write('_FVH', at + 0x28, 'latin1');
  return b;
}

test('firmware volumes at the start and at 0x1000 (ArmVirtQemu layout)', () => {
  assert.deepEqual(findFirmwareVolumes(fv(FFS2_GUID, 0x1000)), [
    { offset: 0x1000, fileSystemGuid: FFS2_GUID, kind: 'firmware', length: 0x200000 },
  ]);
  const c = classifyFile('firmware.bin', 0x2000, fv(FFS2_GUID));
  assert.equal(c.firmware.length, 1);
  assert.deepEqual(c.variables, []);
});

test('variable stores by volume GUID and by name; plain files are clean', () => {
  assert.match(
    classifyFile('x.bin', 4096, fv(NV_DATA_FV_GUID)).variables[0],
    /variable store firmware volume/,
  );
  assert.match(classifyFile('NVVARS', 10, Buffer.alloc(10)).variables[0], /NvVars/);
  assert.match(classifyFile('AAVMF_VARS.fd', 64 << 20, Buffer.alloc(100)).variables[0], /variable store/);
  assert.match(classifyFile('QEMU_EFI.fd', 100, Buffer.alloc(100)).firmware[0], /firmware image/);
  assert.match(classifyFile('flash0.fd', 64 << 20, Buffer.alloc(100)).firmware[0], /firmware size/);
  assert.deepEqual(classifyFile('grubaa64.efi', 100, Buffer.alloc(100)), { firmware: [], variables: [] });
});
