import { clause, isClauseId } from './clauses';
import type { Verdict, VerdictRecord } from './verdict';

/**
 * The one way to say "this verdict for this clause": the level comes from the clause catalogue (MUST
 * for an id the catalogue does not know, so that nothing unknown passes as a warning).
 */
export function verdictFor(
  suite: string,
  clauseId: string,
  verdict: Verdict,
  message: string,
  evidence: Record<string, unknown> = {},
): VerdictRecord {
  const level = isClauseId(clauseId) ? clause(clauseId).level : 'MUST';
  return { suite, clause: clauseId, level, verdict, message, evidence };
}

/**
 * The same verdict for each of `clauses` (an attempt that broke, a cell never run); a suite the
 * registry does not know has no clauses and gets one verdict for `(suite)`, so that it is not silent.
 */
export function verdictsFor(
  suite: string,
  clauses: readonly string[],
  verdict: Verdict,
  message: string,
  evidence: Record<string, unknown> = {},
): VerdictRecord[] {
  return (clauses.length ? clauses : ['(suite)']).map((id) =>
    verdictFor(suite, id, verdict, message, evidence),
  );
}
