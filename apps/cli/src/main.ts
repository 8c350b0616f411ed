import { EXIT } from '@vmfarm/protocol/plain';
import { UsageError } from './usage';

type Command = (argv: string[]) => Promise<number>;

/** Commands load lazily so that `vmfarm check` never pays for NestJS or BullMQ. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  check: {
    summary: 'check a disk image against the static image clauses (no farm needed)',
    load: async () => (await import('./commands/check.js')).check,
  },
  serve: {
    summary: 'run a whole farm here: controller, local agents, private Redis',
    load: async () => (await import('./commands/serve.js')).serve,
  },
  agent: {
    summary: 'run an agent for a controller, in the foreground',
    load: async () => (await import('./commands/agent.js')).agent,
  },
  submit: {
    summary: 'upload images and submit a test matrix (--wait for its report)',
    load: async () => (await import('./commands/submit.js')).submit,
  },
  schedule: {
    summary: 'create, list, run now or delete recurring matrices',
    load: async () => (await import('./commands/schedule.js')).schedule,
  },
  cancel: {
    summary: 'cancel a matrix: queued runs leave the queue, running ones are stopped (SKIP, with the reason)',
    load: async () => (await import('./commands/cancel.js')).cancel,
  },
  issue: {
    summary: 'add, list or close known issues (FAILs they match stay FAIL, named, never a regression)',
    load: async () => (await import('./commands/issue.js')).issue,
  },
  report: {
    summary: "print a matrix's report (text, JSON or JUnit XML)",
    load: async () => (await import('./commands/report.js')).report,
  },
  target: {
    summary: 'add a target profile from a JSON file (it may extend a bundled one), or list them',
    load: async () => (await import('./commands/target.js')).target,
  },
  payload: {
    summary: "add a third-party payload (Arm's VBSA ACS) from a directory or ZIP, or list them",
    load: async () => (await import('./commands/payload.js')).payload,
  },
  token: {
    summary: "create, list and revoke the controller's API tokens (admin)",
    load: async () => (await import('./commands/token.js')).token,
  },
  emulate: {
    summary: 'run a static AArch64 Linux ELF on the bundled emulator (like qemu-aarch64)',
    load: async () => (await import('./commands/emulate.js')).emulate,
  },
};

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
