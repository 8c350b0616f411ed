import { EXIT, payloadManifestSchema, type PayloadCreate } from '@vmfarm/protocol';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError } from '../failure';
import { readZip } from '../zip';
import { addListCommand } from './add-list';

const HELP = `usage: vmfarm payload add DIR|ZIP [--controller URL] [--token TOKEN]
       vmfarm payload list [--controller URL] [--token TOKEN]

add   sends a third-party payload (e.g. Arm's VBSA ACS) to the controller: DIR (or a ZIP of it)
      holds payload.json (see deploy/payloads/vbsa-1.0.0) and every file it names (the UEFI
      applications, the Shell). The controller checks the files against the manifest, builds
      the payload's boot disk and stores it; \`vmfarm submit --suites NAME\` then runs it.
      Prints the payload.
list  prints the payloads the controller has for you, one per line.

  --controller URL  the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN     the API token (default: $VMFARM_TOKEN, else the admin token of the local
                    farm in $VMFARM_DATA or ./.vmfarm); a vendor's payloads are its own

Exit codes: 0 done, 2 usage error, unreadable input or a payload the controller refused (every
problem listed), 3 the controller unreachable.
`;

/** The files of DIR, or of a ZIP (the directory in it that holds payload.json). */
function readSource(source: string): Map<string, Buffer> {
  const fail = (why: string) => new CommandError(`cannot read ${source}: ${why}`, EXIT.usage);
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch (err) {
    throw fail((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  if (isDir)
    return new Map(
      readdirSync(source)
        .filter((f) => statSync(join(source, f)).isFile())
        .map((f) => [f, readFileSync(join(source, f))]),
    );
  let entries: Map<string, Buffer>;
  try {
    entries = readZip(readFileSync(source));
  } catch (err) {
    throw fail((err as Error).message);
  }
  const manifest = [...entries.keys()].find((k) => k === 'payload.json' || k.endsWith('/payload.json'));
  if (!manifest) throw fail('no payload.json in the archive');
  const prefix = manifest.slice(0, -'payload.json'.length);
  return new Map(
    [...entries]
      .filter(([k]) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

export function payloadBody(source: string): PayloadCreate {
  const files = readSource(source);
  const json = files.get('payload.json');
  if (!json) throw new CommandError(`${source} has no payload.json`, EXIT.usage);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new CommandError(`payload.json is not JSON: ${(err as Error).message}`, EXIT.usage);
  }
  const manifest = payloadManifestSchema.safeParse(parsed);
  if (!manifest.success)
    throw new CommandError(
      `payload.json: ${manifest.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      EXIT.usage,
    );
  const named = [...manifest.data.apps, ...(manifest.data.shell ? [manifest.data.shell] : [])].map(
    (f) => f.file,
  );
  const missing = named.filter((f) => !files.has(f));
  if (missing.length)
    throw new CommandError(`${source} lacks ${missing.join(', ')} (named by payload.json)`, EXIT.usage);
  return {
    manifest: manifest.data,
    files: named.map((file) => ({ file, contentBase64: files.get(file)!.toString('base64') })),
  };
}

export function payload(argv: string[]): Promise<number> {
  return addListCommand(argv, {
    name: 'payload',
    help: HELP,
    usage: 'use `vmfarm payload add DIR|ZIP` or `vmfarm payload list` (see --help)',
    add: (client, source) => {
      const body = payloadBody(source);
      return client.call('the payload', (api) => api.createPayload({ body }));
    },
    list: async (client) =>
      (await client.all('the payload list', (api, query) => api.listPayloads({ query }))).map(
        (p) =>
          `${p.name.padEnd(12)} ${p.version.padEnd(12)} ${p.id}  image ${p.image.slice(0, 12)}  ${p.owner ?? 'public'}  ${p.manifest.title ?? ''}`,
      ),
  });
}
