import { formatGuid } from './guid';

/** edk2 firmware volume and variable store recognition over the first bytes of a file. */

export const FFS2_GUID = '8C8CE578-8A3D-4F1C-9935-896185C32DD3';
export const FFS3_GUID = '5473C07A-3DCB-4DCA-BD6F-1E9689E7349A';
export const NV_DATA_FV_GUID = 'FFF12B8D-7696-4C8B-A985-2747075B4F50';
export const VARIABLE_GUID = 'DDCF3616-3275-4164-98B6-FE85707FFE7D';
export const AUTH_VARIABLE_GUID = 'AAF32C78-947B-439A-A180-2E144EC37792';

/** Bytes of a file to scan: edk2's ArmVirtQemu puts its first volume at 0x1000, after a branch. */
export const FV_SCAN_BYTES = 64 * 1024;
const FV_STEP = 0x1000;

export interface FirmwareVolume {
  offset: number;
  fileSystemGuid: string;
  kind: 'firmware' | 'variable-store' | 'other';
  length: number;
}

function kindOf(guid: string): FirmwareVolume['kind'] {
  if (guid === FFS2_GUID || guid === FFS3_GUID) return 'firmware';
  if (guid === NV_DATA_FV_GUID) return 'variable-store';
  return 'other';
}

/** Firmware volume headers (`_FVH` at +0x28) at 4 KiB steps in `head`. */
export function findFirmwareVolumes(head: Buffer): FirmwareVolume[] {
  const out: FirmwareVolume[] = [];
  for (let off = 0; off + 0x38 <= head.length; off += FV_STEP) {
    if (head.toString('latin1', off + 0x28, off + 0x2c) !== '_FVH') continue;
    const fileSystemGuid = formatGuid(head, off + 0x10);
    out.push({
      offset: off,
      fileSystemGuid,
      kind: kindOf(fileSystemGuid),
      length: Number(head.readBigUInt64LE(off + 0x20)),
    });
  }
  return out;
}

/** A bare variable store header (no FV around it) at the start of a file. */
export function isVariableStoreHeader(head: Buffer): boolean {
  if (head.length < 16) return false;
  const g = formatGuid(head, 0);
  return g === VARIABLE_GUID || g === AUTH_VARIABLE_GUID;
}

const FIRMWARE_NAMES =
  /^(QEMU_EFI|AAVMF(32)?_CODE(\..+)?|OVMF(_CODE)?(\..+)?|QEMU_EFI-pflash|edk2-.*-code)\.(fd|raw)$/i;
const VARS_NAMES = /^(QEMU_VARS|AAVMF(32)?_VARS(\..+)?|OVMF_VARS(\..+)?|edk2-.*-vars|.*_VARS)\.(fd|raw)$/i;
/** Sizes edk2 flash images come in (QEMU pads the ARM ones to 64 MiB). */
const FIRMWARE_SIZES = new Set([1, 2, 3, 4, 8, 16, 32, 64].map((m) => m * 1024 * 1024));

export interface FileClassification {
  firmware: string[];
  variables: string[];
}

/**
 * Why a file (by name, size and first bytes) looks like shipped firmware or a variable store.
 * Empty lists: it does not.
 */
export function classifyFile(name: string, size: number, head: Buffer): FileClassification {
  const firmware: string[] = [];
  const variables: string[] = [];
  for (const fv of findFirmwareVolumes(head)) {
    const where = `firmware volume (${fv.fileSystemGuid}) at offset 0x${fv.offset.toString(16)}`;
    if (fv.kind === 'variable-store') variables.push(`variable store ${where}`);
    else firmware.push(where);
  }
  if (isVariableStoreHeader(head)) variables.push('variable store header at offset 0');
  if (/^NvVars$/i.test(name)) variables.push('NvVars file (edk2 emulated variable store)');
  if (VARS_NAMES.test(name)) variables.push(`name ${name} is an edk2 variable store`);
  else if (FIRMWARE_NAMES.test(name)) firmware.push(`name ${name} is an edk2 firmware image`);
  else if (/\.fd$/i.test(name) && FIRMWARE_SIZES.has(size))
    firmware.push(`a .fd file of firmware size (${size} bytes)`);
  return { firmware, variables };
}
