import { EXIT } from '@vmfarm/protocol';
import { clientFor } from '../client';
import { reported } from '../failure';
import { parse, UsageError } from '../usage';

const HELP = `usage: vmfarm cancel MATRIX_ID [--reason TEXT] [--controller URL] [--token TOKEN]

Cancels a matrix: its queued runs leave the queue and running ones are stopped by their agent
(at its next heartbeat); each is recorded SKIP with who cancelled it and why. Cells already done
keep their verdicts. Prints how many cells it cancelled.

  --reason TEXT     why, recorded with each cancelled cell
  --controller URL  the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN     the API token (default: $VMFARM_TOKEN, else the admin token of the local
                    farm in $VMFARM_DATA or ./.vmfarm); a vendor cancels its own matrices

Exit codes: 0 cancelled (or already done), 2 usage error, an unknown matrix or a refused token,
3 the controller unreachable.
`;

export async function cancel(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    controller: { type: 'string' },
    token: { type: 'string' },
    reason: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one MATRIX_ID (see --help)');
  const [id] = positionals;
  const reason = values.reason as string | undefined;
  const client = clientFor(values);
  return reported('cancel', async () => {
    const before = await client.call(`matrix ${id}`, (api) => api.getMatrix({ params: { id } }));
    if (before.state === 'done') {
      process.stderr.write(`matrix ${id} was already done: nothing to cancel\n`);
      return EXIT.ok;
    }
    const after = await client.call(`matrix ${id}`, (api) =>
      api.cancelMatrix({ params: { id }, body: reason === undefined ? {} : { reason } }),
    );
    // Cells an agent finished meanwhile keep their verdicts: the count is of those cancelled.
    const cancelled =
      after.cells.filter((c) => c.verdict === 'SKIP').length -
      before.cells.filter((c) => c.verdict === 'SKIP').length;
    process.stderr.write(
      `matrix ${id} cancelled: ${cancelled} cell(s) recorded SKIP (${after.progress.done}/${after.progress.total} done)\n`,
    );
    return EXIT.ok;
  });
}
