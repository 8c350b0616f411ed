import {
  payloadRuleId,
  relatedClauses,
  type PayloadManifest,
  type Verdict,
  type VerdictRecord,
} from '@vmfarm/protocol';
import type { AcsLog, AcsRule } from './acs-log';

/**
 * Arm's results as verdicts (issue 13): PASSED → PASS; FAILED → FAIL; SKIPPED and NOT TESTED →
 * SKIP with Arm's reason; PASSED(*PARTIAL) and WARNING → PASS carrying the qualifier. A rule the
 * log never finished, or never reached, is ERROR: a payload that stops is never a PASS. A result
 * this mapping does not know is ERROR too (the farm cannot read it), with the text as evidence.
 */
export function mapAcsResult(
  result: string,
): { verdict: Verdict; qualifier?: VerdictRecord['qualifier'] } | null {
  switch (result) {
    case 'PASSED':
      return { verdict: 'PASS' };
    case 'FAILED':
      return { verdict: 'FAIL' };
    case 'PASSED(*PARTIAL)':
      return { verdict: 'PASS', qualifier: 'PARTIAL' };
    case 'WARNING':
      return { verdict: 'PASS', qualifier: 'WARNING' };
    default:
      return result === 'SKIPPED' || result.startsWith('NOT TESTED') ? { verdict: 'SKIP' } : null;
  }
}

/** Where the verdicts came from, for the evidence of each and for the run's summary. */
export interface PayloadRunInfo {
  manifest: PayloadManifest;
  /** The payload's content hash. */
  sha256: string;
  /** Why the log ended early when it did (time limit, the VM stopped), for ERROR messages. */
  cutShort?: string;
}

const subEvidence = (r: AcsRule) => ({
  rule: r.id,
  test: r.test,
  description: r.description,
  result: r.result,
  ...(r.notes.length ? { notes: r.notes } : {}),
});

/** One verdict per rule the suite selected (or ran), each named `<namespace>:<rule>`. */
export function acsVerdicts(log: AcsLog, info: PayloadRunInfo): VerdictRecord[] {
  const { manifest } = info;
  const suite = manifest.name;
  const payload = { name: manifest.name, version: manifest.version, sha256: info.sha256 };
  const why = info.cutShort ?? (log.complete ? 'the log has no result for it' : 'the log ends early');
  const base = (rule: string, verdict: Verdict, message: string, evidence: Record<string, unknown>) => {
    const related = relatedClauses(manifest.relations, rule);
    return {
      suite,
      clause: payloadRuleId(manifest.namespace, rule),
      // A payload's rule is not a clause of the spec: MUST, so that nothing unknown passes as a warning.
      level: 'MUST' as const,
      verdict,
      message,
      evidence: { payload, ...(related.length ? { relatedClauses: related } : {}), ...evidence },
    };
  };

  const out: VerdictRecord[] = log.rules.map((r) => {
    const ev = {
      test: r.test,
      module: r.module,
      line: r.line,
      result: r.result,
      ...(r.notes.length ? { notes: r.notes } : {}),
      ...(r.subRules.length ? { subRules: r.subRules.map(subEvidence) } : {}),
    };
    const label = `${r.id}${r.description ? ` (${r.description})` : ''}`;
    if (r.result === null)
      return base(
        r.id,
        'ERROR',
        `${label}: started, no result: ${why} (last line: ${log.lastLine ?? '-'})`,
        ev,
      );
    const mapped = mapAcsResult(r.result);
    if (!mapped)
      return base(r.id, 'ERROR', `${label}: result '${r.result}' is not one the farm can read`, ev);
    const reason = mapped.verdict === 'SKIP' && r.notes.length ? `: ${r.notes.join('; ')}` : '';
    const v = base(r.id, mapped.verdict, `${label}: ${r.result}${reason}`, ev);
    return mapped.qualifier ? { ...v, qualifier: mapped.qualifier } : v;
  });
  for (const id of log.unreached)
    out.push(base(id, 'ERROR', `${id}: never reached: ${why} (last line: ${log.lastLine ?? '-'})`, {}));
  if (out.length === 0)
    out.push(
      base(
        'RUN',
        'ERROR',
        `${manifest.name} ${manifest.version} printed no rule: ${why} (last line: ${log.lastLine ?? '-'})`,
        {},
      ),
    );
  return out;
}

/** The counts of the ACS Summary as the farm's verdicts give them (to compare with the log's own). */
export function countAcs(log: AcsLog): Required<NonNullable<AcsLog['summary']>> {
  const c = {
    total: 0,
    passed: 0,
    partial: 0,
    warnings: 0,
    skipped: 0,
    failed: 0,
    palNotSupported: 0,
    notImplemented: 0,
  };
  for (const r of log.rules) {
    if (r.result === null) continue;
    c.total++;
    if (r.result === 'PASSED') c.passed++;
    else if (r.result === 'PASSED(*PARTIAL)') c.partial++;
    else if (r.result === 'WARNING') c.warnings++;
    else if (r.result === 'SKIPPED') c.skipped++;
    else if (r.result === 'FAILED') c.failed++;
    else if (r.result === 'NOT TESTED (PAL NOT SUPPORTED)') c.palNotSupported++;
    else if (r.result === 'NOT TESTED (TEST NOT IMPLEMENTED)') c.notImplemented++;
  }
  return c;
}
