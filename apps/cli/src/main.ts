import { EXIT } from '@vmfarm/protocol';
import { UsageError } from './usage';

type Command = (argv: string[]) => Promise<number>;

/** Commands load lazily so that `vmfarm check` never pays for NestJS or BullMQ. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: vmfarm <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `vmfarm <command> --help` for its options.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`vmfarm: unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await (
      await command.load()
    )(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`vmfarm ${name}: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}
