export interface TranscriptLine {
  n: number;
  text: string;
  matched: boolean;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-9;?=]*[A-Za-z]|[()][A-Za-z0-9]|[=>])/g;

/**
 * The console as the boot suite read it (terminal escapes and carriage returns dropped, empty lines
 * kept so numbers match the file), each line flagged when it is one the suite quoted as evidence.
 */
export function transcriptLines(transcript: string, matchedLines: readonly string[]): TranscriptLine[] {
  const wanted = new Set(matchedLines.map((l) => l.trim()).filter((l) => l.length > 0));
  const lines = transcript.replace(ANSI, '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((raw, i) => {
    const text = raw.replace(/\r/g, '').trimEnd();
    return { n: i + 1, text, matched: wanted.has(text.trim()) };
  });
}

/** Every string listed under `matchedLines` in a run's evidence (each clause may quote some). */
export function matchedLinesOf(evidence: readonly Record<string, unknown>[]): string[] {
  const out = new Set<string>();
  for (const e of evidence) {
    const lines = e.matchedLines;
    if (Array.isArray(lines)) for (const l of lines) if (typeof l === 'string') out.add(l);
  }
  return [...out];
}

export interface Stage {
  stage: string;
  ms: number;
}

/** evidence.stagesMs as stages in time order; absent or malformed values are left out. */
export function stagesOf(evidence: readonly Record<string, unknown>[]): Stage[] {
  for (const e of evidence) {
    const s = e.stagesMs;
    if (s && typeof s === 'object' && !Array.isArray(s)) {
      return Object.entries(s as Record<string, unknown>)
        .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
        .map(([stage, ms]) => ({ stage, ms }))
        .sort((a, b) => a.ms - b.ms);
    }
  }
  return [];
}
