import { EXIT, exitCodeFor, renderMatrixJUnit, renderMatrixText } from '@vmfarm/protocol';
import { clientFor, ControllerClient } from '../client';
import { reported } from '../failure';
import { oneOf, parse, UsageError } from '../usage';

export const REPORT_FORMATS = ['text', 'json', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const HELP = `usage: vmfarm report MATRIX_ID [--controller URL] [--token TOKEN] [--format text|json|junit]

Prints the report of a matrix submitted with \`vmfarm submit\`.

  --controller URL  the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN     the API token (default: $VMFARM_TOKEN, else the admin token of the local
                    farm in $VMFARM_DATA or ./.vmfarm)
  --format F        text (default), json (the MatrixReport contract) or junit (JUnit XML)

Exit codes: 0 no MUST failure, 1 a MUST clause failed, 2 usage error or an unknown matrix,
3 an infrastructure ERROR in the report, or the controller unreachable.
`;

/** Prints the report on stdout in `format`; the exit code follows its summary. */
export async function printReport(
  client: ControllerClient,
  id: string,
  format: ReportFormat,
): Promise<number> {
  const { report, raw } = await client.report(id);
  const text =
    format === 'json'
      ? `${JSON.stringify(raw, null, 2)}\n`
      : format === 'junit'
        ? renderMatrixJUnit(report)
        : renderMatrixText(report);
  process.stdout.write(text);
  if (report.matrix.state !== 'done')
    process.stderr.write(
      `vmfarm report: matrix ${id} is still running (${report.matrix.progress.done}/${report.matrix.progress.total} cells done): the report is partial\n`,
    );
  return exitCodeFor(report.summary);
}

export async function report(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    controller: { type: 'string' },
    token: { type: 'string' },
    format: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('give exactly one MATRIX_ID (see --help)');
  const format = oneOf('format', values.format as string | undefined, REPORT_FORMATS, 'text');
  const client = clientFor(values);
  return reported('report', () => printReport(client, positionals[0], format));
}
