import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The farm's shared cache (content-hashed corpus, guest and emulator builds). */
export function cacheRoot(): string {
  if (process.env.VMFARM_CACHE) return process.env.VMFARM_CACHE;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vmfarm');
}

/**
 * The static corpus fixtures/corpus/build.sh made (real tools around real EFI binaries), or null
 * when it was never built on this machine: generated seeds still run then.
 */
export function corpusDir(): string | null {
  if (process.env.VMFARM_CORPUS_DIR) return process.env.VMFARM_CORPUS_DIR;
  const root = join(cacheRoot(), 'corpus');
  if (!existsSync(root)) return null;
  const built = readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => existsSync(join(d, 'manifest.json')))
    .sort();
  return built[0] ?? null;
}

/** The corpus files whose names match, smallest first, at most `max` bytes each. */
export function corpusFiles(pattern: RegExp, max: number): string[] {
  const dir = corpusDir();
  if (!dir) return [];
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).size <= max);
}

/** The first `length` bytes of a file (all of it when shorter), or null when it is not there. */
export async function head(path: string, length: number): Promise<Buffer | null> {
  if (!existsSync(path)) return null;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(length, (await fh.stat()).size));
    await fh.read(buf, 0, buf.length, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Bytes at both ends of a file glued together (a disk's primary and backup GPT). */
export async function ends(path: string, front: number, back: number): Promise<Buffer | null> {
  if (!existsSync(path)) return null;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size < front + back) return null;
    const buf = Buffer.alloc(front + back);
    await fh.read(buf, 0, front, 0);
    await fh.read(buf, front, back, size - back);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Static AArch64 programs the emulator's tests build (cached), smallest first. */
export function emulatorPrograms(): string[] {
  const root = join(cacheRoot(), 'emulator', 'programs');
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const d of readdirSync(root).sort())
    for (const f of readdirSync(join(root, d)).sort())
      if (!f.startsWith('.') && statSync(join(root, d, f)).isFile()) out.push(join(root, d, f));
  return out;
}

export function readIfThere(path: string): Buffer | null {
  return existsSync(path) ? readFileSync(path) : null;
}

/** The repository checkout this build lives in (dist/src/fixtures.js is four levels down). */
export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
