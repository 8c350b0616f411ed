/**
 * Whose fault a live boot failure is. The agent runs the image's static checks before a live suite
 * (`ctx.staticVerdicts`): when the image failed one, a boot that fails is charged to the image's
 * clauses and the vm clauses are not judged on it; the VM fails a clause only on evidence that it is
 * at fault.
 */
import { clause, isClauseId, type Verdict } from '@vmfarm/protocol';
import type { SuiteContext } from '../suite';

/** What the image's static checks said, for every verdict's evidence (certification reads it). */
export interface ImageChecks {
  passed: boolean;
  /** The MUST clauses the image failed. */
  failed: string[];
}

export function imageChecks(ctx: SuiteContext): ImageChecks | undefined {
  if (!ctx.staticVerdicts) return undefined;
  const failed = ctx.staticVerdicts
    .filter((v) => v.verdict === 'FAIL' && v.level === 'MUST')
    .map((v) => v.clause);
  return { passed: failed.length === 0, failed };
}

/**
 * The verdict of a vm clause on a boot that failed through the image's or guest's doing (`FAIL`):
 * SKIP when the image failed its static checks (the VM is not judged on a broken image), else FAIL.
 */
export function vmVerdictOnImageFailure(
  ctx: SuiteContext,
  clauseId: string,
  message: string,
): { verdict: Verdict; message: string } {
  const checks = imageChecks(ctx);
  const vmClause = isClauseId(clauseId) && clause(clauseId).subject === 'vm';
  if (vmClause && checks && !checks.passed)
    return {
      verdict: 'SKIP',
      message: `not judged: the image failed ${checks.failed.join(', ')} (static checks), so this boot says nothing of the VM: ${message}`,
    };
  return { verdict: 'FAIL', message };
}
