import { randomUUID } from 'node:crypto';
import { closeSync, openSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ARCHES,
  EXIT,
  imageVersionSchema,
  readyPatternProblem,
  tagSchema,
  type Arch,
  type MatrixRequest,
} from '@vmfarm/protocol';
import { clientFor, ControllerClient } from '../client';
import { CommandError, reported } from '../failure';
import { oneOf, parse, UsageError } from '../usage';
import { printReport, REPORT_FORMATS } from './report';

const HELP = `usage: vmfarm submit [IMAGE...] --targets LIST --suites LIST [options]

Uploads each image (raw or qcow2, optionally .gz or .xz) to the controller, submits the matrix
images × targets × suites and prints its id. With --wait, shows progress on stderr until every
cell is done, then prints the report on stdout instead of the id. A payload added with
\`vmfarm payload add\` is a suite (--suites vbsa) that brings its own disk: one cell per target,
no IMAGE needed.

  --targets LIST     comma-separated target profile ids, e.g. static
  --suites LIST      comma-separated suite ids, or all
  --controller URL   the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN      the API token (default: $VMFARM_TOKEN, else the admin token of the local
                     farm in $VMFARM_DATA or ./.vmfarm)
  --arch A           ${ARCHES.join(' or ')} (default: detected from the image)
  --name N           the image's name in reports (default: its file name; one IMAGE only)
  --version V        the image's version: successive versions of one name line up in history
  --tag T            a tag (repeatable), e.g. --tag debian-testing; schedules select images by tag.
                     On an image the controller already has, --name/--version/--tag replace its own
  --ready REGEX      live suites: a regular expression the guest prints when it is up
                     (tried before the default patterns), e.g. '^myos login:'
  --wait             wait for the matrix and print its report
  --format F         report format with --wait: text (default), json or junit
  --timeout SECONDS  with --wait, give up after SECONDS (exit 3)

Exit codes: 0 no MUST failure (or submitted without --wait), 1 a MUST clause failed,
2 usage error, an unreadable image or a request the controller refused (every error listed),
3 an infrastructure ERROR, the controller unreachable, or the timeout.
`;

const MiB = 1024 * 1024;
/** Smaller uploads finish before a progress line would help. */
const PROGRESS_FROM = 16 * MiB;

function list(flag: string, value: string | undefined): string[] {
  const items = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} is required (a comma-separated list; see --help)`);
  return items;
}

/** Checked here as the controller checks it (readyPatternProblem), before any upload. */
function readyPattern(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '') throw new UsageError('--ready needs a regular expression');
  const problem = readyPatternProblem(value);
  if (problem) throw new UsageError(`--ready: ${problem}`);
  return value;
}

/** --version and --tag checked as the controller checks them, before any upload. */
function metadata(named: boolean, version: string | undefined, tags: string[] | undefined): Metadata {
  if (version !== undefined && !imageVersionSchema.safeParse(version).success)
    throw new UsageError(`--version must be 1 to 100 printable characters without spaces (got '${version}')`);
  for (const t of tags ?? [])
    if (!tagSchema.safeParse(t).success)
      throw new UsageError(`--tag must be 1 to 64 letters, digits, '.', '_' or '-' (got '${t}')`);
  return { named, version, tags: tags && [...new Set(tags)].sort() };
}

function readableSize(file: string): number {
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    closeSync(openSync(file, 'r'));
    return stat.size;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CommandError(`cannot read image ${file}: ${reason}`, EXIT.usage);
  }
}

/** One status line on stderr: rewritten in place on a terminal, a new line per change otherwise. */
function statusLine(): { show(line: string): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = '';
  return {
    show(line) {
      if (line === last) return;
      last = line;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
    done() {
      if (tty && last) process.stderr.write('\n');
      last = '';
    },
  };
}

interface Metadata {
  /** Given with --name, rather than the file name. */
  named: boolean;
  version?: string;
  tags?: string[];
}

async function upload(
  client: ControllerClient,
  file: string,
  size: number,
  name: string,
  meta: Metadata,
  arch?: Arch,
) {
  const status = statusLine();
  let shownPercent = -1;
  const query = { name, arch, version: meta.version, tags: meta.tags };
  const uploaded = await client.uploadImage(file, size, query, (sent) => {
    if (size < PROGRESS_FROM) return;
    const percent = Math.floor((sent * 100) / size);
    // Every percent on a terminal, every 10 % in a log.
    if (percent === shownPercent || (!process.stderr.isTTY && percent % 10 !== 0)) return;
    shownPercent = percent;
    status.show(`uploading ${name}: ${percent}% of ${(size / MiB).toFixed(1)} MiB`);
  });
  status.done();
  const { created } = uploaded;
  let { image } = uploaded;
  // An upload of known bytes keeps their metadata: what was asked for explicitly is applied to it.
  const patch = {
    ...(meta.named && image.name !== name ? { name } : {}),
    ...(meta.version !== undefined && image.version !== meta.version ? { version: meta.version } : {}),
    ...(meta.tags !== undefined && meta.tags.join(',') !== image.tags.join(',') ? { tags: meta.tags } : {}),
  };
  if (!created && Object.keys(patch).length > 0)
    image = await client.call(`image ${image.sha256.slice(0, 12)}`, (api) =>
      api.patchImage({ params: { sha256: image.sha256 }, body: patch }),
    );
  process.stderr.write(
    `image ${name}: ${image.sha256} ${image.format}${image.version ? ` version ${image.version}` : ''}${image.tags.length ? ` tags ${image.tags.join(',')}` : ''}${created ? '' : ' (already on the controller)'}\n`,
  );
  return image.sha256;
}

/** Tries before giving up on a controller that does not answer or whose Redis is away. */
const SUBMIT_TRIES = 4;

/**
 * POST /api/matrices with one Idempotency-Key for this submit: a retry after a lost answer gets
 * the matrix the first try made, never a second one. Retried while the controller is unreachable
 * or answers 503 (its queue is away: nothing was written).
 */
async function createMatrix(client: ControllerClient, request: MatrixRequest): Promise<string> {
  const key = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      const matrix = await client.call('the matrix', (api) =>
        api.createMatrix({ body: request, headers: { 'idempotency-key': key } }),
      );
      return matrix.id;
    } catch (err) {
      const transient = err instanceof CommandError && err.exitCode === EXIT.infrastructure;
      if (!transient || attempt >= SUBMIT_TRIES) throw err;
      process.stderr.write(`vmfarm submit: ${err.message}; trying again (${attempt}/${SUBMIT_TRIES - 1})\n`);
      await sleep(1000 * 2 ** (attempt - 1));
    }
  }
}

export async function submit(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    targets: { type: 'string' },
    suites: { type: 'string' },
    controller: { type: 'string' },
    token: { type: 'string' },
    arch: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    tag: { type: 'string', multiple: true },
    ready: { type: 'string' },
    wait: { type: 'boolean' },
    format: { type: 'string' },
    timeout: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const targets = list('targets', values.targets as string | undefined);
  const suites = list('suites', values.suites as string | undefined);
  // A payload suite (`--suites vbsa`) brings its own disk: no IMAGE is needed for it alone.
  if (positionals.length === 0 && suites.includes('all'))
    throw new UsageError('give at least one IMAGE (see --help)');
  const arch =
    values.arch === undefined ? undefined : oneOf('arch', values.arch as string, ARCHES, 'aarch64');
  const name = values.name as string | undefined;
  if (name !== undefined && positionals.length > 1) throw new UsageError('--name names one IMAGE only');
  const ready = readyPattern(values.ready as string | undefined);
  const meta = metadata(
    name !== undefined,
    values.version as string | undefined,
    values.tag as string[] | undefined,
  );
  const format = oneOf('format', values.format as string | undefined, REPORT_FORMATS, 'text');
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0))
    throw new UsageError(`--timeout must be a positive number of seconds (got '${values.timeout}')`);
  const client = clientFor(values);

  return reported('submit', async () => {
    // Every image is checked before anything is uploaded: a typo in the last path wastes no upload.
    const sizes = positionals.map(readableSize);
    const images: string[] = [];
    for (const [i, file] of positionals.entries())
      images.push(await upload(client, file, sizes[i], name ?? basename(file), meta, arch));
    const id = await createMatrix(client, {
      images,
      targets,
      suites,
      ...(ready === undefined ? {} : { ready }),
    });
    if (!values.wait) {
      process.stdout.write(`${id}\n`);
      return EXIT.ok;
    }
    process.stderr.write(`matrix ${id} submitted\n`);
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout * 1000;
    const status = statusLine();
    for (;;) {
      const { state, progress } = await client.call(`matrix ${id}`, (api) =>
        api.getMatrix({ params: { id } }),
      );
      status.show(`matrix ${id}: ${progress.done}/${progress.total} cells done`);
      if (state === 'done') break;
      if (Date.now() >= deadline) {
        status.done();
        throw new CommandError(
          `gave up waiting for matrix ${id} after ${timeout} s (${progress.done}/${progress.total} cells done)`,
          EXIT.infrastructure,
        );
      }
      await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    }
    status.done();
    return printReport(client, id, format);
  });
}
