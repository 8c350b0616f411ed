import { describe, expect, it } from 'vitest';
import type { CellTriage } from '@vmfarm/protocol';
import { countKnown, triageByRun, triagedMark } from './triage';

const cell = (over: Partial<CellTriage> = {}): CellTriage => ({
  runId: 'r',
  retryOf: null,
  supersededBy: null,
  flaky: false,
  known: [],
  unexplained: [],
  ...over,
});
const ki = { id: 'ki-1', title: 'GPT rewritten' };

describe('triaged marks', () => {
  it('shows a FAIL every failing clause of which a known issue explains as FAIL (known), still F', () => {
    const m = triagedMark(
      { state: 'done', verdict: 'FAIL' },
      cell({ known: [{ clause: 'IMG-GPT', issues: [ki] }] }),
    );
    expect([m.letter, m.word, m.tone]).toEqual(['F', 'FAIL (known: GPT rewritten)', 'known']);
    const partly = triagedMark(
      { state: 'done', verdict: 'FAIL' },
      cell({ known: [{ clause: 'IMG-GPT', issues: [ki] }], unexplained: ['IMG-ESP'] }),
    );
    expect([partly.word, partly.tone]).toEqual(['FAIL', 'fail']);
  });

  it('calls a retry that passed flaky and a replaced run retried', () => {
    expect(triagedMark({ state: 'done', verdict: 'PASS' }, cell({ flaky: true })).word).toBe('PASS (flaky)');
    expect(triagedMark({ state: 'done', verdict: 'FAIL' }, cell({ supersededBy: 'x' })).word).toBe(
      'FAIL (retried)',
    );
    expect(triagedMark({ state: 'running', verdict: null }, cell({ flaky: true })).word).toBe('running');
  });

  it('counts known FAILs apart', () => {
    const byRun = triageByRun({
      matrixId: 'm',
      settlement: null,
      cells: [cell({ runId: 'a', known: [{ clause: 'IMG-GPT', issues: [ki] }] }), cell({ runId: 'b' })],
    });
    const cells = [
      { runId: 'a', state: 'done', verdict: 'FAIL' },
      { runId: 'b', state: 'done', verdict: 'FAIL' },
    ] as const;
    expect(countKnown(cells, byRun)).toBe(1);
  });
});
