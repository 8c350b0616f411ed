import { EXIT } from '@vmfarm/protocol';
import { clientFor, type ControllerClient } from '../client';
import { reported } from '../failure';
import { parse, UsageError } from '../usage';

/**
 * The commands whose only actions are `add ARG` (prints what the controller made of it as JSON) and
 * `list` (one line per item), with --controller and --token: `vmfarm payload` and `vmfarm target`.
 */
export interface AddListCommand {
  name: string;
  help: string;
  /** The usage error for anything but `add ARG` and `list`. */
  usage: string;
  add(client: ControllerClient, arg: string): Promise<unknown>;
  list(client: ControllerClient): Promise<string[]>;
}

export async function addListCommand(argv: string[], command: AddListCommand): Promise<number> {
  const { values, positionals } = parse(argv, { controller: { type: 'string' }, token: { type: 'string' } });
  if (values.help) {
    process.stdout.write(command.help);
    return EXIT.ok;
  }
  const [action, ...rest] = positionals;
  const client = clientFor(values);
  if (action === 'add' && rest.length === 1)
    return reported(command.name, async () => {
      const made = await command.add(client, rest[0]!);
      process.stdout.write(`${JSON.stringify(made, null, 2)}\n`);
      return EXIT.ok;
    });
  if (action === 'list' && rest.length === 0)
    return reported(command.name, async () => {
      for (const line of await command.list(client)) process.stdout.write(`${line}\n`);
      return EXIT.ok;
    });
  throw new UsageError(command.usage);
}
