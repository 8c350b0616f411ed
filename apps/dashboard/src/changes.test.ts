import { describe, expect, it } from 'vitest';
import { changeRows, formatTime, historyRows, trendData } from './changes';

describe('regression table', () => {
  it('lists regressions before fixes, each sorted by image, target, clause', () => {
    const c = (imageName: string, clause: string, before: 'PASS' | 'FAIL', after: 'PASS' | 'FAIL') => ({
      imageName,
      targetId: 'static',
      clause,
      before,
      after,
      runId: `${imageName}-${clause}-2`,
      previousRunId: `${imageName}-${clause}-1`,
    });
    const rows = changeRows({
      latest: { matrixId: 'm2', at: '2025-01-02T00:00:00Z' },
      previous: { matrixId: 'm1', at: '2025-01-01T00:00:00Z' },
      regressions: [c('zeta', 'IMG-GPT', 'PASS', 'FAIL'), c('alpha', 'IMG-ESP', 'PASS', 'FAIL')],
      fixes: [c('alpha', 'IMG-GPT', 'FAIL', 'PASS')],
    });
    expect(rows.map((r) => [r.kind, r.imageName, r.clause])).toEqual([
      ['regression', 'alpha', 'IMG-ESP'],
      ['regression', 'zeta', 'IMG-GPT'],
      ['fix', 'alpha', 'IMG-GPT'],
    ]);
  });
});

describe('history', () => {
  it('summarises each series by its latest point, oldest first in the strip', () => {
    const [row] = historyRows([
      {
        imageName: 'debian',
        targetId: 'static',
        clause: 'IMG-GPT',
        points: [
          {
            at: '2025-01-02T00:00:00Z',
            matrixId: 'm2',
            runId: 'r2',
            imageSha256: 'b',
            imageVersion: '2',
            verdict: 'FAIL',
          },
          {
            at: '2025-01-01T00:00:00Z',
            matrixId: 'm1',
            runId: 'r1',
            imageSha256: 'a',
            imageVersion: '1',
            verdict: 'PASS',
          },
        ],
        firstFailure: '2025-01-02T00:00:00Z',
        lastPass: '2025-01-01T00:00:00Z',
        fixedAt: null,
      },
    ]);
    expect(row).toMatchObject({
      latest: 'FAIL',
      latestVersion: '2',
      verdicts: ['PASS', 'FAIL'],
      fixedAt: null,
    });
  });

  it('plots pass rates as percent in time order', () => {
    const d = trendData([
      { at: '2025-01-02T02:00:00Z', matrixId: 'm2', pass: 6, fail: 1, error: 0, skip: 0, passRate: 6 / 7 },
      { at: '2025-01-01T02:00:00Z', matrixId: 'm1', pass: 7, fail: 0, error: 0, skip: 0, passRate: 1 },
    ]);
    expect(d.map((p) => [p.matrixId, p.passRate, p.label])).toEqual([
      ['m1', 100, '2025-01-01 02:00'],
      ['m2', 85.7, '2025-01-02 02:00'],
    ]);
  });

  it('leaves a gap for a matrix that judged only SKIPs (the server says passRate null)', () => {
    const d = trendData([
      { at: '2025-01-01T02:00:00Z', matrixId: 'm1', pass: 0, fail: 0, error: 0, skip: 7, passRate: null },
    ]);
    expect(d.map((p) => [p.matrixId, p.passRate, p.skip])).toEqual([['m1', null, 7]]);
  });

  it('formats times compactly in UTC', () => {
    expect(formatTime('2025-03-04T05:06:07.000Z')).toBe('2025-03-04 05:06');
    expect(formatTime(null)).toBe('—');
  });
});
