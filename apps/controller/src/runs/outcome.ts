import { MAX_ATTEMPTS, summarize, type AttemptResult, type RunState, type Verdict } from '@vmfarm/protocol';

/** The verdict of one attempt: FAIL when a MUST failed, ERROR when the farm broke, SKIP when all skipped. */
export function outcomeOf(result: Pick<AttemptResult, 'verdicts' | 'error'>): Verdict {
  if (result.verdicts.length === 0) return 'ERROR';
  const summary = summarize(result.verdicts);
  if (summary.result === 'FAIL') return 'FAIL';
  if (result.error || summary.result === 'ERROR') return 'ERROR';
  if (result.verdicts.every((v) => v.verdict === 'SKIP')) return 'SKIP';
  return 'PASS';
}

/** Only ERROR is retried, and only while attempts remain; anything else ends the run. */
export function nextState(
  outcome: Verdict,
  attempt: number,
): { state: Exclude<RunState, 'queued'>; retry: boolean } {
  const retry = outcome === 'ERROR' && attempt < MAX_ATTEMPTS;
  return { state: retry ? 'retrying' : 'done', retry };
}
