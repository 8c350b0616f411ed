import { cachedEspDisk, type FatFile } from '@vmfarm/image';
import { startupLines, type PayloadManifest } from '@vmfarm/protocol';

/** Printed by startup.nsh before and after the payload runs: the suite's marks in the console. */
export const PAYLOAD_START = 'VMFARM-PAYLOAD-START';
export const PAYLOAD_END = 'VMFARM-PAYLOAD-END';
/** The removable-media path (UEFI 3.5.1.1): where the Shell goes, so that a pristine store boots it. */
export const SHELL_PATH = 'EFI/BOOT/BOOTAA64.EFI';
const DIR = 'EFI/BOOT';

/**
 * startup.nsh for a payload: finds the volume that holds the payload (the Shell maps each disk
 * to an fsN:, in an order the farm does not choose), changes to \EFI\BOOT, runs the manifest's
 * lines, and marks start and end on the console. CRLF, as the Shell's own scripts are.
 */
export function startupScript(manifest: PayloadManifest, args?: readonly string[]): string {
  const app = manifest.apps[0]!.file;
  const lines = [
    'echo -off',
    `echo ${PAYLOAD_START}`,
    'for %i in 0 1 2 3 4 5 6 7 8 9',
    `  if exist fs%i:\\EFI\\BOOT\\${app} then`,
    '    fs%i:',
    '  endif',
    'endfor',
    'cd \\EFI\\BOOT',
    ...startupLines(manifest, args),
    `echo ${PAYLOAD_END}`,
  ];
  return lines.map((l) => `${l}\r\n`).join('');
}

/**
 * The files of a payload's boot disk: the Shell at the removable path (when the payload brings
 * one; else the firmware's own shell finds startup.nsh at the root), the apps and startup.nsh in
 * \EFI\BOOT, and startup.nsh at the root too (where a firmware's built-in shell looks).
 */
export function payloadDiskFiles(
  manifest: PayloadManifest,
  files: ReadonlyMap<string, Buffer>,
  args?: readonly string[],
): FatFile[] {
  const need = (name: string) => {
    const data = files.get(name);
    if (!data) throw new Error(`payload ${manifest.name} ${manifest.version}: file ${name} is missing`);
    return data;
  };
  const script = Buffer.from(startupScript(manifest, args), 'latin1');
  return [
    ...(manifest.shell ? [{ path: SHELL_PATH, data: need(manifest.shell.file) }] : []),
    ...manifest.apps.map((a) => ({ path: `${DIR}/${a.file}`, data: need(a.file) })),
    { path: `${DIR}/startup.nsh`, data: script },
    { path: 'startup.nsh', data: script },
  ];
}

/** The payload's boot disk in `cacheDir`, built once per content (manifest lines, files, arguments). */
export async function payloadDisk(
  cacheDir: string,
  manifest: PayloadManifest,
  files: ReadonlyMap<string, Buffer>,
  args?: readonly string[],
): Promise<{ path: string; key: string; built: boolean }> {
  return cachedEspDisk(cacheDir, { files: payloadDiskFiles(manifest, files, args) });
}
