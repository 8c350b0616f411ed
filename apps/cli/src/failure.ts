import { EXIT } from '@vmfarm/protocol';
import { HostError } from '@vmfarm/host';

/** An error for the user: one line (plus one line per detail), and the exit code it means. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * Runs a command body, printing a CommandError or HostError (a missing program, a process that would
 * not start: infrastructure) as `vmfarm <name>: message`. UsageError goes on to main.ts.
 */
export async function reported(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CommandError || err instanceof HostError) {
      const details = err instanceof CommandError ? err.details.map((d) => `  ${d}\n`).join('') : '';
      process.stderr.write(`vmfarm ${name}: ${err.message}\n${details}`);
      return err instanceof CommandError ? err.exitCode : EXIT.infrastructure;
    }
    throw err;
  }
}
