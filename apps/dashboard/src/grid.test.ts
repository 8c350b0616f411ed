import { describe, expect, it } from 'vitest';
import { applyMatrixEvent, applyRun, buildGrid, countCells, imageLabel, newerCells } from './grid';
import { image, matrix, run, SHA_A, SHA_B } from './test-data';

describe('buildGrid', () => {
  it('lays out images × targets in request order, suites sorted within a cell', () => {
    const g = buildGrid(matrix(), new Map([[SHA_A, image(SHA_A, 'debian', '12.5')]]));
    expect(g.rows).toEqual([
      { sha256: SHA_B, label: SHA_B.slice(0, 12) },
      { sha256: SHA_A, label: 'debian 12.5' },
    ]);
    expect(g.targets).toEqual(['static', 'qemu-aarch64-tcg']);
    expect(g.cell(SHA_A, 'qemu-aarch64-tcg').map((c) => c.suite)).toEqual(['acpi', 'boot']);
    expect(g.cell(SHA_B, 'qemu-aarch64-tcg')).toEqual([]);
  });

  it('leaves out requested targets no cell runs on', () => {
    const m = matrix();
    m.request.targets.push('unused');
    expect(buildGrid(m, new Map()).targets).toEqual(['static', 'qemu-aarch64-tcg']);
  });

  it('labels unnamed images by hash prefix', () => {
    expect(imageLabel(SHA_A, image(SHA_A, ''))).toBe(SHA_A.slice(0, 12));
    expect(imageLabel(SHA_A, image(SHA_A, 'debian'))).toBe('debian');
  });
});

describe('live updates', () => {
  it('folds a run event into its cell and recounts progress', () => {
    let m = applyRun(matrix(), run('r1', { verdict: 'FAIL' }));
    expect(m.cells.find((c) => c.runId === 'r1')).toMatchObject({
      state: 'done',
      verdict: 'FAIL',
      attempts: 1,
    });
    expect(m.progress).toEqual({ done: 1, total: 4 });
    expect(m.state).toBe('running');
    for (const id of ['r2', 'r3', 'r4']) m = applyRun(m, run(id, { verdict: 'PASS' }));
    expect(m.progress).toEqual({ done: 4, total: 4 });
    expect(m.state).toBe('done');
    expect(countCells(m.cells)).toEqual({ PASS: 3, FAIL: 1, ERROR: 0, SKIP: 0, pending: 0 });
  });

  it('ignores runs of other matrices and unknown runs', () => {
    const m = matrix();
    expect(applyRun(m, run('r1', { matrixId: 'other' }))).toBe(m);
    expect(applyRun(m, run('zz'))).toBe(m);
  });

  it('takes progress and state from matrix events of its own matrix only', () => {
    const m = matrix();
    const counts = { PASS: 2, FAIL: 0, ERROR: 0, SKIP: 0 };
    expect(applyMatrixEvent(m, { id: 'm1', total: 4, done: 2, counts, state: 'running' }).progress).toEqual({
      done: 2,
      total: 4,
    });
    expect(applyMatrixEvent(m, { id: 'm2', total: 4, done: 4, counts, state: 'done' })).toBe(m);
  });

  it('counts unfinished runs as pending', () => {
    const m = applyRun(matrix(), run('r1', { state: 'retrying', verdict: null }));
    expect(countCells(m.cells).pending).toBe(4);
  });
});

describe('a fetched matrix merged with the one shown', () => {
  it('keeps the cells live events moved further than the fetched snapshot, and recounts', () => {
    const shown = applyRun(matrix(), run('r1', { state: 'done', verdict: 'PASS' }));
    const fresh = {
      ...matrix(),
      cells: matrix().cells.map((c) =>
        c.runId === 'r2' ? { ...c, state: 'running' as const, attempts: 1 } : c,
      ),
    };
    const merged = newerCells(fresh, shown);
    expect(merged.cells.map((c) => [c.runId, c.state])).toEqual([
      ['r1', 'done'],
      ['r2', 'running'],
      ['r3', 'queued'],
      ['r4', 'queued'],
    ]);
    expect(merged.progress).toEqual({ done: 1, total: 4 });
    expect(merged.state).toBe('running');
  });

  it('takes the fetched cell when it is further along, and a retry over its first attempt', () => {
    const shown = applyRun(matrix(), run('r1', { state: 'retrying', verdict: null }));
    const done = matrix();
    done.cells = done.cells.map((c) => ({
      ...c,
      state: 'done' as const,
      verdict: 'PASS' as const,
      attempts: 1,
    }));
    expect(newerCells(done, shown).state).toBe('done');
    const retried = {
      ...matrix(),
      cells: matrix().cells.map((c) =>
        c.runId === 'r1' ? { ...c, state: 'running' as const, attempts: 2 } : c,
      ),
    };
    expect(newerCells(retried, shown).cells[0].attempts).toBe(2);
  });
});

describe('events arriving out of order', () => {
  it('ignores a run view behind what its cell shows, and a matrix count lower than ours', () => {
    const done = applyRun(matrix(), run('r1', { state: 'done', verdict: 'PASS' }));
    expect(applyRun(done, run('r1', { state: 'running', verdict: null }))).toBe(done);
    const late = applyMatrixEvent(done, {
      id: 'm1',
      total: 4,
      done: 0,
      counts: { PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0 },
      state: 'running',
    });
    expect(late).toBe(done);
    expect(done.progress.done).toBe(1);
  });
});
