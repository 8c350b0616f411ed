import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from './engine';

/** Keeps a finding's input and what happened, as `<out>/<target>/<kind>-<index>.bin` and `.txt`. */
export function saveFinding(outDir: string, f: Finding, input: Buffer): string {
  const dir = join(outDir, f.target);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${f.kind}-${f.index}`);
  writeFileSync(`${base}.bin`, input);
  writeFileSync(
    `${base}.txt`,
    `${f.kind} in ${f.target}, input ${f.index} (from seed ${f.seed}), ${f.ms.toFixed(1)} ms\n${f.error ?? ''}\n`,
  );
  return `${base}.bin`;
}
