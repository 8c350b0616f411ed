import type { MatrixEvent, RunState, Verdict } from '@vmfarm/protocol';

/** One server-sent event: JSON has no raw newlines, so the data is one `data:` line. */
export function sseFrame(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: keeps proxies and idle timeouts from closing a quiet stream. */
export const SSE_HEARTBEAT = ': heartbeat\n\n';

/** Progress of a matrix from its runs' states and verdicts. */
export function matrixEvent(
  id: string,
  runs: readonly { state: RunState; verdict: Verdict | null }[],
): MatrixEvent {
  const counts = { PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0 };
  let done = 0;
  for (const r of runs) {
    if (r.state !== 'done') continue;
    done++;
    if (r.verdict) counts[r.verdict]++;
  }
  return { id, total: runs.length, done, counts, state: done === runs.length ? 'done' : 'running' };
}
