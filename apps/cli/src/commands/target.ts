import { EXIT, type TargetCreate } from '@vmfarm/protocol';
import { readFileSync } from 'node:fs';
import { CommandError } from '../failure';
import { addListCommand } from './add-list';

const HELP = `usage: vmfarm target add FILE [--controller URL] [--token TOKEN]
       vmfarm target list [--controller URL] [--token TOKEN]

add   sends the profile in FILE (JSON, e.g. {"id": "my-gicv2", "extends": "qemu-aarch64-tcg",
      "gic": 2}) to the controller, which resolves \`extends\` against the profiles it knows and
      checks every field; prints the resolved profile.
list  prints every target profile the controller knows, one per line.

  --controller URL  the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN     the API token (default: $VMFARM_TOKEN, else the admin token of the local
                    farm in $VMFARM_DATA or ./.vmfarm); a vendor's profiles are its own

Exit codes: 0 done, 2 usage error or a profile the controller refused (every problem listed),
3 the controller unreachable.
`;

function readProfile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      EXIT.usage,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CommandError(`${file} is not JSON: ${(err as Error).message}`, EXIT.usage);
  }
}

export function target(argv: string[]): Promise<number> {
  return addListCommand(argv, {
    name: 'target',
    help: HELP,
    usage: 'use `vmfarm target add FILE` or `vmfarm target list` (see --help)',
    add: (client, file) => {
      const body = readProfile(file) as TargetCreate;
      return client.call('the target profile', (api) => api.createTarget({ body }));
    },
    list: async (client) =>
      (await client.all('the target list', (api, query) => api.listTargets({ query }))).map(
        (t) => `${t.id.padEnd(28)} ${t.kind.padEnd(7)} ${t.arch.join(',').padEnd(16)} ${t.description}`,
      ),
  });
}
