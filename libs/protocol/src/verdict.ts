import { z } from 'zod';
import { ARCHES } from './arches';

export const VERDICTS = ['PASS', 'FAIL', 'ERROR', 'SKIP'] as const;
export const verdictSchema = z.enum(VERDICTS);
export type Verdict = z.infer<typeof verdictSchema>;

export const levelSchema = z.enum(['MUST', 'SHOULD', 'MAY']);
export type Level = z.infer<typeof levelSchema>;

/**
 * One clause-level finding. `evidence` is free-form but always JSON: LBAs, CRCs expected and found,
 * paths, PE fields, log lines. ERROR means the farm or host broke, never the subject.
 */
export const verdictRecordSchema = z.object({
  suite: z.string().min(1),
  clause: z.string().min(1),
  level: levelSchema,
  verdict: verdictSchema,
  message: z.string(),
  evidence: z.record(z.string(), z.unknown()),
  /**
   * A PASS that comes with a reservation from a third-party payload (Arm's PASSED(*PARTIAL), its
   * WARNING): shown beside the verdict, never hidden in the evidence.
   */
  qualifier: z.enum(['PARTIAL', 'WARNING']).optional(),
});
export type VerdictRecord = z.infer<typeof verdictRecordSchema>;

export { ARCHES };
export const archSchema = z.enum(ARCHES);
export type Arch = z.infer<typeof archSchema>;

export const imageFormatSchema = z.enum(['raw', 'qcow2']);
export type ImageFormat = z.infer<typeof imageFormatSchema>;
