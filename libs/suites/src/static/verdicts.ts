import { verdictFor, type Verdict, type VerdictRecord } from '@vmfarm/protocol/plain';

export const SUITE_ID = 'static';

export function verdict(
  clauseId: string,
  v: Verdict,
  message: string,
  evidence: Record<string, unknown> = {},
): VerdictRecord {
  return verdictFor(SUITE_ID, clauseId, v, message, evidence);
}

/** "first problem (and N more)" for a one-line message; the full list goes in evidence. */
export function summarizeProblems(problems: readonly string[]): string {
  return problems.length > 1 ? `${problems[0]} (and ${problems.length - 1} more)` : (problems[0] ?? '');
}
