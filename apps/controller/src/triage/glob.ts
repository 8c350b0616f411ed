/**
 * Globs of known issues and patterns: `*` any run of characters, `?` one character, the rest
 * literal; the whole string must match, case-sensitively.
 */

/** Wildcard matching without backtracking blow-up: one pass, remembering the last `*`. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * A SQL LIKE pattern (with ESCAPE '\') that every string the glob matches also matches: a
 * pre-filter for the database, which may compare case-insensitively; globMatch decides.
 */
export function globToLike(pattern: string): string {
  return pattern
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}
