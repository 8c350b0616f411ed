import type { MatrixTriage, MatrixView, Verdict } from '@vmfarm/protocol';
import type { authed } from './auth';
import { registerAgent } from './auth';
import { eventually } from './env';

type Http = ReturnType<typeof authed>;

/** What a scripted suite reports for one run: its clause verdicts, optionally an artifact. */
export type Script = (cell: MatrixView['cells'][number]) => {
  verdicts: Record<string, Verdict>;
  artifact?: string;
};

/**
 * A scripted agent over HTTP: starts the next attempt of each run not done and reports what the
 * script says, through the same routes a real agent uses (an ERROR is retried by the farm).
 */
export async function runCells(http: Http, matrix: MatrixView, script: Script): Promise<void> {
  const agentId = await registerAgent(http, 'scripted');
  for (const cell of matrix.cells.filter((c) => c.state !== 'done')) {
    const { verdicts, artifact } = script(cell);
    const n = cell.attempts + 1;
    await http.post(`/api/runs/${cell.runId}/attempts/${n}/start`).send({ agentId }).expect(200);
    await http
      .post(`/api/runs/${cell.runId}/attempts/${n}/result`)
      .send({
        agentId,
        durationMs: 5,
        verdicts: Object.entries(verdicts).map(([clause, verdict]) => ({
          suite: cell.suite,
          clause,
          level: 'MUST',
          verdict,
          message: `${clause} ${verdict}`,
          evidence: { clause },
        })),
        artifacts: artifact
          ? [
              {
                name: 'console.log',
                contentBase64: Buffer.from(artifact).toString('base64'),
                mediaType: 'text/plain',
              },
            ]
          : [],
      })
      .expect(200);
  }
}

/**
 * Runs a matrix with the script, and each retry the farm asks for before calling a regression,
 * until the matrix is settled; returns the matrix and its triage as they end.
 */
export async function settle(
  http: Http,
  matrix: MatrixView,
  script: Script,
): Promise<{ matrix: MatrixView; triage: MatrixTriage }> {
  for (;;) {
    await runCells(http, matrix, script);
    const next = await eventually<{ triage?: MatrixTriage; matrix?: MatrixView }>(async () => {
      const triage = (await http.get(`/api/matrices/${matrix.id}/triage`).expect(200)).body as MatrixTriage;
      if (triage.settlement?.state === 'settled') return { triage };
      const m = (await http.get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      return m.cells.some((c) => c.state !== 'done') ? { matrix: m } : undefined;
    }, 100);
    if (next.triage)
      return {
        matrix: (await http.get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView,
        triage: next.triage,
      };
    matrix = next.matrix!;
  }
}
