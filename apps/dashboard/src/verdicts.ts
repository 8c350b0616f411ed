import type { Verdict } from '@vmfarm/protocol';
import type { CertificationVerdict } from './api';

export type RunState = 'queued' | 'running' | 'retrying' | 'done';

/** What a cell shows for one run: a letter readable without colour, a word for screen readers, a tone. */
export interface Mark {
  letter: string;
  word: string;
  tone: 'pass' | 'fail' | 'error' | 'skip' | 'pending' | 'none' | 'known';
}

const VERDICT_MARKS: Record<Verdict, Mark> = {
  PASS: { letter: 'P', word: 'PASS', tone: 'pass' },
  FAIL: { letter: 'F', word: 'FAIL', tone: 'fail' },
  ERROR: { letter: 'E', word: 'ERROR', tone: 'error' },
  SKIP: { letter: 'S', word: 'SKIP', tone: 'skip' },
};

export function verdictMark(v: Verdict): Mark {
  return VERDICT_MARKS[v];
}

/** A run's mark: its verdict once done, else its state (Q queued, R running or retrying). */
export function runMark(state: RunState, verdict: Verdict | null): Mark {
  if (state === 'done' && verdict) return VERDICT_MARKS[verdict];
  if (state === 'queued') return { letter: 'Q', word: 'queued', tone: 'pending' };
  return { letter: 'R', word: state, tone: 'pending' };
}

/** Certification adds two outcomes that are no verdict: no suite covers the clause, or none ran it yet. */
export function certificationMark(v: CertificationVerdict): Mark {
  if (v === 'NOT-COVERED') return { letter: '–', word: 'NOT COVERED', tone: 'none' };
  if (v === 'NOT-RUN') return { letter: '?', word: 'NOT RUN', tone: 'none' };
  return VERDICT_MARKS[v];
}

export const LEGEND: readonly Mark[] = [
  ...Object.values(VERDICT_MARKS),
  runMark('queued', null),
  runMark('running', null),
];
