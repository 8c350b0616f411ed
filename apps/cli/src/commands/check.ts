import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  ARCHES,
  EXIT,
  exitCodeFor,
  renderImageJUnit,
  renderImageText,
  summarize,
  type ImageReport,
} from '@vmfarm/protocol/plain';
import { decompressToFile, HostError, ImageFormatError, type Decompressed } from '@vmfarm/image';
// The static suite's own entry point: the live suites, their session contract and zod stay unloaded.
import { containerRefusal, staticSuite, UnreadableImageError } from '@vmfarm/suites/static';
import { oneOf, parse, UsageError } from '../usage';

const FORMATS = ['text', 'json', 'junit'] as const;

export const CHECK_USAGE = `usage: vmfarm check IMAGE [--arch aarch64|aarch32] [--format text|json|junit] [--sha256]

Checks a disk image (raw or qcow2, optionally gzip or xz compressed) against the image clauses of
the ARM VM System Specification: GPT, ESP, FAT32, removable-media path, EFI application, no
variable store, no bundled firmware.

  --arch      the image's architecture (default: detected from the removable-media path)
  --format    text (default), json (the ImageReport contract) or junit
  --sha256    also hash the (decompressed) image bytes; reads the whole image

Exit status: 0 no MUST clause failed, 1 a MUST clause failed, 2 usage error or unreadable input,
3 the farm could not check the image (ERROR).
`;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function fail(message: string): number {
  process.stderr.write(`vmfarm check: ${message}\n`);
  return EXIT.usage;
}

export async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    arch: { type: 'string' },
    format: { type: 'string' },
    sha256: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(CHECK_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected one IMAGE argument, got ${positionals.length}`);
  const arch = values.arch === undefined ? null : oneOf('arch', values.arch as string, ARCHES, 'aarch64');
  const format = oneOf('format', values.format as string | undefined, FORMATS, 'text');
  const input = positionals[0];

  try {
    const st = await stat(input);
    if (!st.isFile()) return fail(`${input} is not a regular file`);
  } catch (err) {
    return fail(`cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }

  let image: Decompressed;
  try {
    image = await decompressToFile(input);
  } catch (err) {
    if (err instanceof ImageFormatError) return fail(`cannot read ${input}: ${err.message}`);
    if (!(err instanceof HostError)) return fail(`cannot read ${input}: ${(err as Error).message}`);
    // The suite meets the same host fault and reports it as ERROR verdicts.
    image = { filePath: input, uploadedAs: 'raw', cleanup: async () => {} };
  }
  let report: ImageReport;
  try {
    const outcome = await staticSuite.run({
      imagePath: image.filePath,
      arch,
      target: { id: 'static', kind: 'static', description: 'local vmfarm check', arch: [...ARCHES] },
      signal: new AbortController().signal,
    });
    const refused = containerRefusal(outcome);
    if (refused !== undefined) return fail(`cannot read ${input}: ${refused}`);
    report = {
      image: {
        sha256: values.sha256 ? await sha256File(image.filePath) : null,
        size: (await stat(image.filePath)).size,
        format: outcome.image.format,
        arch: outcome.image.arch,
      },
      verdicts: outcome.verdicts,
      summary: summarize(outcome.verdicts),
    };
  } catch (err) {
    if (err instanceof UnreadableImageError) return fail(err.message);
    throw err;
  } finally {
    await image.cleanup();
  }
  process.stdout.write(
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === 'junit'
        ? renderImageJUnit(report)
        : renderImageText(report),
  );
  return exitCodeFor(report.summary);
}
