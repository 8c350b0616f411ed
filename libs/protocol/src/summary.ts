import type { Summary } from './report';
import type { VerdictRecord } from './verdict';

/** `known(v)`: a known issue explains this FAIL (then it is counted apart, and still fails). */
export function summarize(
  verdicts: readonly VerdictRecord[],
  known: (v: VerdictRecord) => boolean = () => false,
): Summary {
  const count = (v: string) => verdicts.filter((x) => x.verdict === v).length;
  const knownFails = verdicts.filter((x) => x.verdict === 'FAIL' && known(x));
  const failing = (level: string) => [
    ...new Set(verdicts.filter((x) => x.verdict === 'FAIL' && x.level === level).map((x) => x.clause)),
  ];
  const mustFailures = failing('MUST');
  const error = count('ERROR');
  return {
    total: verdicts.length,
    pass: count('PASS'),
    fail: count('FAIL') - knownFails.length,
    known: knownFails.length,
    error,
    skip: count('SKIP'),
    mustFailures,
    warnings: failing('SHOULD'),
    knownFailures: [...new Set(knownFails.map((x) => x.clause))],
    result: mustFailures.length > 0 ? 'FAIL' : error > 0 ? 'ERROR' : 'PASS',
  };
}

/** CLI exit codes: 0 no MUST failure, 1 a MUST clause failed, 2 usage or unreadable input, 3 infrastructure error. */
export const EXIT = { ok: 0, mustFailed: 1, usage: 2, infrastructure: 3 } as const;

export function exitCodeFor(summary: Summary): number {
  if (summary.result === 'FAIL') return EXIT.mustFailed;
  if (summary.result === 'ERROR') return EXIT.infrastructure;
  return EXIT.ok;
}
