import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Arch, Verdict } from '@vmfarm/protocol';

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
export const BUILD_SCRIPT = join(REPO_ROOT, 'fixtures', 'corpus', 'build.sh');

/** One image of fixtures/corpus/build.sh's manifest.json. */
export interface CorpusImage {
  file: string;
  description: string;
  /** What to pass as --arch, or null to let the checker detect it. */
  arch: Arch | null;
  /** The architecture the report must name (passed or detected), or null to leave it unchecked. */
  reportArch: Arch | null;
  exitCode: number;
  /** Expected verdict per static clause; empty when no report is expected (exit 2). */
  verdicts: Record<string, Verdict>;
  /** Per clause, text its message or evidence must contain (case-insensitive). */
  mentions: Record<string, string>;
}

export interface Corpus {
  dir: string;
  clauses: string[];
  images: CorpusImage[];
}

export type BuildResult = { ok: true; corpus: Corpus } | { ok: false; reason: string };

/** Runs build.sh (cached by content hash, so usually instant) and reads its manifest. */
export function buildCorpus(): BuildResult {
  const r = spawnSync('bash', [BUILD_SCRIPT], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60 * 1000,
  });
  if (r.error) return { ok: false, reason: `cannot run ${BUILD_SCRIPT}: ${r.error.message}` };
  if (r.status !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
    return { ok: false, reason: `${BUILD_SCRIPT} exited ${r.status ?? r.signal}:\n${tail}` };
  }
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Omit<Corpus, 'dir'>;
    return { ok: true, corpus: { dir, ...manifest } };
  } catch (err) {
    return { ok: false, reason: `no readable manifest.json in '${dir}': ${(err as Error).message}` };
  }
}
