import { describe, expect, it } from 'vitest';
import { certificationMark, LEGEND, runMark, verdictMark } from './verdicts';

describe('verdict marks', () => {
  it('gives every verdict a distinct letter, so the grid reads without colour', () => {
    expect(['PASS', 'FAIL', 'ERROR', 'SKIP'].map((v) => verdictMark(v as 'PASS').letter)).toEqual([
      'P',
      'F',
      'E',
      'S',
    ]);
    const letters = LEGEND.map((m) => m.letter);
    expect(new Set(letters).size).toBe(letters.length);
  });

  it('shows the state until a run is done', () => {
    expect(runMark('queued', null)).toMatchObject({ letter: 'Q', word: 'queued' });
    expect(runMark('running', null)).toMatchObject({ letter: 'R', word: 'running' });
    expect(runMark('retrying', null)).toMatchObject({ letter: 'R', word: 'retrying' });
    expect(runMark('done', 'ERROR')).toMatchObject({ letter: 'E', tone: 'error' });
  });

  it('marks clauses no suite covers or nobody ran apart from verdicts', () => {
    expect(certificationMark('NOT-COVERED')).toMatchObject({ word: 'NOT COVERED', tone: 'none' });
    expect(certificationMark('NOT-RUN')).toMatchObject({ word: 'NOT RUN', tone: 'none' });
    expect(certificationMark('FAIL').letter).toBe('F');
  });
});
