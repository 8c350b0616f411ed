import type { VerdictRecord } from '@vmfarm/protocol';
import { HostError, ImageFormatError, openImage, type OpenedImage } from '@vmfarm/image';
import { UnreadableImageError, type Suite, type SuiteContext, type SuiteOutcome } from '../suite';
import { CHECKS } from './checks';
import type { Inspection } from './inspection';
import { SUITE_ID, verdict } from './verdicts';

export { REMOVABLE_PATHS } from '@vmfarm/image';
export { UnreadableImageError } from '../suite';

/** Errors that mean the input file itself cannot be read at all (exit 2 in the CLI). */
const UNREADABLE_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EPERM', 'ELOOP']);

async function open(
  path: string,
): Promise<OpenedImage | { hostError: Error } | { refused: ImageFormatError }> {
  try {
    return await openImage(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A qcow2 container that is corrupt or refused (backing or external data file, encryption) is
    // the image's failure, judged below. Broken compression cannot be read at all: no report, as
    // for a missing file (an upload refuses both with the reason).
    if (err instanceof ImageFormatError && err.format === 'qcow2') return { refused: err };
    if ((code && UNREADABLE_CODES.has(code)) || err instanceof ImageFormatError)
      throw new UnreadableImageError(`cannot read ${path}: ${(err as Error).message}`);
    return { hostError: err as Error };
  }
}

async function run(ctx: SuiteContext): Promise<SuiteOutcome> {
  const opened = await open(ctx.imagePath);
  if ('hostError' in opened)
    return {
      verdicts: CHECKS.map(([id]) =>
        verdict(id, 'ERROR', `the image could not be opened: ${opened.hostError.message}`),
      ),
      image: { format: 'raw', arch: ctx.arch },
    };
  if ('refused' in opened) {
    // No partition table can be read through the container: IMG-GPT fails on it, and every later
    // clause fails for want of a disk (a FAIL of the image, never the farm's ERROR).
    const reason = opened.refused.message;
    return {
      verdicts: CHECKS.map(([id], k) =>
        verdict(
          id,
          'FAIL',
          k === 0 ? `the qcow2 container cannot be read: ${reason}` : `no disk to check: ${reason}`,
          {
            refusedContainer: reason,
          },
        ),
      ),
      image: { format: 'qcow2', arch: ctx.arch },
    };
  }
  const s: Inspection = { disk: opened.disk, format: opened.format, declaredArch: ctx.arch, arch: ctx.arch };
  const verdicts: VerdictRecord[] = [];
  let hostFault: string | null = null;
  try {
    for (const [id, check] of CHECKS) {
      if (!hostFault && ctx.signal.aborted) hostFault = 'the run was aborted';
      if (hostFault) {
        verdicts.push(verdict(id, 'ERROR', `not evaluated: ${hostFault}`));
        continue;
      }
      try {
        verdicts.push(await check(s));
      } catch (err) {
        if (err instanceof ImageFormatError) verdicts.push(verdict(id, 'FAIL', err.message));
        else {
          // An I/O error or a missing tool: the farm's fault, and nothing after it can be trusted.
          hostFault = `host error while checking ${id}: ${(err as Error).message}`;
          verdicts.push(
            verdict(id, 'ERROR', hostFault, {
              error: (err as Error).name,
              hostError: err instanceof HostError,
            }),
          );
        }
      }
    }
  } finally {
    await opened.close();
  }
  return { verdicts, image: { format: s.format, arch: s.arch } };
}

/**
 * Why the image's qcow2 container was refused, when that is the whole outcome: `vmfarm check`
 * calls such input unreadable (exit 2), as for broken compression; the farm records the FAILs.
 */
export function containerRefusal(outcome: SuiteOutcome): string | undefined {
  const reason = outcome.verdicts[0]?.evidence.refusedContainer;
  return typeof reason === 'string' ? reason : undefined;
}

export const staticSuite: Suite = {
  id: SUITE_ID,
  title:
    'Static disk-image checks (GPT, ESP, FAT32, removable path, EFI application, no variables, no firmware)',
  subject: 'image',
  clauses: CHECKS.map(([id]) => id),
  targetKinds: ['static'],
  run,
};
