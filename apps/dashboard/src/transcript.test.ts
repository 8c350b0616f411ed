import { describe, expect, it } from 'vitest';
import { matchedLinesOf, stagesOf, transcriptLines } from './transcript';

const CONSOLE = [
  '\x1b[2J\x1b[01;01HUEFI firmware (version edk2-stable202211 built at 00:00:00)\r',
  '',
  'BdsDxe: starting Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x3,0x0)\r',
  'Linux version 6.1.0',
  'VMFARM-READY',
  '',
].join('\n');

describe('transcriptLines', () => {
  it('highlights exactly the lines the verdicts quote, numbered as in the file', () => {
    const lines = transcriptLines(CONSOLE, [
      'UEFI firmware (version edk2-stable202211 built at 00:00:00)',
      'VMFARM-READY',
    ]);
    expect(lines.map((l) => l.n)).toEqual([1, 2, 3, 4, 5]);
    expect(lines.filter((l) => l.matched).map((l) => l.n)).toEqual([1, 5]);
    expect(lines[0].text).toBe('UEFI firmware (version edk2-stable202211 built at 00:00:00)');
    expect(lines[2].text.endsWith('\r')).toBe(false);
  });

  it('matches nothing when nothing is quoted', () => {
    expect(transcriptLines(CONSOLE, []).some((l) => l.matched)).toBe(false);
    expect(transcriptLines('', ['x'])).toEqual([]);
  });
});

describe('evidence helpers', () => {
  it('collects matchedLines of every clause once', () => {
    expect(
      matchedLinesOf([{ matchedLines: ['a', 'b'] }, { matchedLines: ['b', 'c', 7] }, { other: 1 }]),
    ).toEqual(['a', 'b', 'c']);
  });

  it('orders stage timings by time and drops what is not a number', () => {
    expect(stagesOf([{}, { stagesMs: { ready: 4200, vmStarted: 0, firmware: 800, gaveUp: null } }])).toEqual([
      { stage: 'vmStarted', ms: 0 },
      { stage: 'firmware', ms: 800 },
      { stage: 'ready', ms: 4200 },
    ]);
    expect(stagesOf([{ stagesMs: [1, 2] }])).toEqual([]);
  });
});
