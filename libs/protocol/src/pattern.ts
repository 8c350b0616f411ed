/**
 * Readiness patterns (`ready` of a matrix, `--ready` of the CLI) are regular expressions a user
 * writes and an agent applies to a guest's console. The agent runs them on a linear-time engine
 * (RE2: no back-references, no lookaround); this check refuses, when they are submitted, what that
 * engine cannot run and what would backtrack catastrophically on the usual JavaScript engine (a
 * repetition whose iterations can split the same text in many ways: `(\w|\w)*`, `(a+)+`, `(\w+\s?)*`).
 * It reads the pattern's structure; it never runs it.
 */

/** Why `source` cannot be a readiness pattern, or undefined when it can. */
export function readyPatternProblem(source: string): string | undefined {
  try {
    new RegExp(source, 'm');
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message}`;
  }
  try {
    const ast = new Parser(source).parse();
    return findBacktracking(ast, source);
  } catch (err) {
    if (err instanceof Unsupported) return err.message;
    throw err;
  }
}

class Unsupported extends Error {}

// --- character sets over ASCII, with one bit for everything beyond it ---

interface CharSet {
  ascii: bigint;
  other: boolean;
}
const NONE: CharSet = { ascii: 0n, other: false };
const range = (from: number, to: number): bigint =>
  from > to ? 0n : ((1n << BigInt(to - from + 1)) - 1n) << BigInt(from);
const ASCII_ALL = range(0, 127);
const set = (ascii: bigint, other = false): CharSet => ({ ascii, other });
const union = (a: CharSet, b: CharSet): CharSet => set(a.ascii | b.ascii, a.other || b.other);
const overlaps = (a: CharSet, b: CharSet) => (a.ascii & b.ascii) !== 0n || (a.other && b.other);
const invert = (a: CharSet): CharSet => set(ASCII_ALL & ~a.ascii, true);
const code = (c: string) => c.charCodeAt(0);
const char = (c: number): CharSet => (c < 128 ? set(1n << BigInt(c)) : set(0n, true));
const DIGIT = set(range(48, 57));
const WORD = set(range(48, 57) | range(65, 90) | range(97, 122) | (1n << 95n));
const SPACE = set(range(9, 13) | (1n << 32n), true);
const DOT = set(ASCII_ALL & ~(1n << 10n) & ~(1n << 13n), true);

// --- the pattern as a tree ---

/** Each part of the pattern, with where it is in the source (for messages). */
type Part =
  | { kind: 'chars'; set: CharSet }
  | { kind: 'empty' }
  | { kind: 'group'; alts: Node[][] }
  | { kind: 'repeat'; node: Node; min: number; max: number };
type Node = Part & { start: number; end: number };

/** A repetition of at least this many iterations can split text in exponentially many ways. */
const MANY = 10;

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Node {
    const start = this.i;
    const alts = this.alternatives();
    return { kind: 'group', alts, start, end: this.s.length };
  }

  private alternatives(): Node[][] {
    const alts = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts;
  }

  private sequence(): Node[] {
    const seq: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const start = this.i;
      const atom = this.atom();
      seq.push(this.quantified(atom, start));
    }
    return seq;
  }

  private quantified(node: Node, start: number): Node {
    const s = this.s;
    let min: number;
    let max: number;
    const c = s[this.i];
    if (c === '*' || c === '+' || c === '?') {
      [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
      this.i++;
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(s.slice(this.i))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(this.i))!;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.i += m[0].length;
    } else return node;
    if (s[this.i] === '?') this.i++; // lazy: the same search space
    return { kind: 'repeat', node, min, max, start, end: this.i };
  }

  private atom(): Node {
    const start = this.i;
    const node = this.atomAt(start);
    return { ...node, start, end: this.i };
  }

  private atomAt(start: number): Part {
    const s = this.s;
    const c = s[this.i++];
    if (c === '(') {
      if (s.startsWith('?=', this.i) || s.startsWith('?!', this.i) || /^\?<[=!]/.test(s.slice(this.i)))
        throw new Unsupported(
          `lookaround at ${start} ("${s.slice(start, start + 4)}…") is not supported: readiness patterns run on a linear-time engine (RE2)`,
        );
      if (s.startsWith('?:', this.i)) this.i += 2;
      else if (s.startsWith('?<', this.i)) this.i = s.indexOf('>', this.i) + 1;
      const alts = this.alternatives();
      this.i++; // ')'
      return { kind: 'group', alts };
    }
    if (c === '[') return { kind: 'chars', set: this.charClass() };
    if (c === '.') return { kind: 'chars', set: DOT };
    if (c === '^' || c === '$') return { kind: 'empty' };
    if (c === '\\') return this.escape(start);
    return { kind: 'chars', set: char(code(c)) };
  }

  private escape(start: number): Part {
    const s = this.s;
    const c = s[this.i++];
    if (/[1-9]/.test(c) || (c === 'k' && s[this.i] === '<'))
      throw new Unsupported(
        `a back-reference at ${start} ("${s.slice(start, start + 3)}") is not supported: readiness patterns run on a linear-time engine (RE2)`,
      );
    if (c === 'b' || c === 'B') return { kind: 'empty' };
    return { kind: 'chars', set: this.escapedSet(c) };
  }

  /** The set of an escape whose letter was just read (inside or outside a class). */
  private escapedSet(c: string): CharSet {
    const s = this.s;
    switch (c) {
      case 'd':
        return DIGIT;
      case 'D':
        return invert(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return invert(WORD);
      case 's':
        return SPACE;
      case 'S':
        return invert(SPACE);
      case 'n':
        return char(10);
      case 'r':
        return char(13);
      case 't':
        return char(9);
      case 'f':
        return char(12);
      case 'v':
        return char(11);
      case '0':
        return char(0);
      case 'c':
        return char(code(s[this.i++] ?? 'A') % 32);
      case 'x':
      case 'u': {
        const m = (c === 'x' ? /^[0-9a-fA-F]{2}/ : /^([0-9a-fA-F]{4}|\{[0-9a-fA-F]+\})/).exec(
          s.slice(this.i),
        );
        if (!m) return char(code(c));
        this.i += m[0].length;
        return char(parseInt(m[0].replace(/[{}]/g, ''), 16));
      }
      default:
        return char(code(c));
    }
  }

  private charClass(): CharSet {
    const s = this.s;
    const negated = s[this.i] === '^';
    if (negated) this.i++;
    let out = NONE;
    while (this.i < s.length && s[this.i] !== ']') {
      const lo = this.classAtom();
      if (s[this.i] === '-' && s[this.i + 1] !== ']' && this.i + 1 < s.length) {
        this.i++;
        const hi = this.classAtom();
        if (typeof lo === 'number' && typeof hi === 'number') {
          out = union(out, set(range(Math.min(lo, 127), Math.min(hi, 127)), hi > 127));
          continue;
        }
        out = union(out, char(code('-')));
        out = union(out, typeof hi === 'number' ? char(hi) : hi);
      }
      out = union(out, typeof lo === 'number' ? char(lo) : lo);
    }
    this.i++; // ']'
    return negated ? invert(out) : out;
  }

  /** One member of a class: a code point, or a set (`\w`). */
  private classAtom(): number | CharSet {
    const c = this.s[this.i++];
    if (c !== '\\') return code(c);
    const e = this.s[this.i++];
    if (e === 'b') return 8;
    const found = this.escapedSet(e);
    const bits = found.ascii;
    // A single character comes back as its code, so that it can start or end a range.
    if (!found.other && bits !== 0n && (bits & (bits - 1n)) === 0n) return bits.toString(2).length - 1;
    return found;
  }
}

// --- what each part can match first, last, or nothing at all ---

function nullable(n: Node): boolean {
  if (n.kind === 'empty') return true;
  if (n.kind === 'chars') return false;
  if (n.kind === 'repeat') return n.min === 0 || nullable(n.node);
  return n.alts.some((seq) => seq.every(nullable));
}

function first(n: Node): CharSet {
  if (n.kind === 'empty') return NONE;
  if (n.kind === 'chars') return n.set;
  if (n.kind === 'repeat') return first(n.node);
  return n.alts.reduce((acc, seq) => union(acc, edge(seq, first)), NONE);
}

function last(n: Node): CharSet {
  if (n.kind === 'empty') return NONE;
  if (n.kind === 'chars') return n.set;
  if (n.kind === 'repeat') return last(n.node);
  return n.alts.reduce((acc, seq) => union(acc, edge([...seq].reverse(), last)), NONE);
}

/** What a sequence can begin (or, reversed, end) with: its parts up to the first one that cannot be empty. */
function edge(seq: readonly Node[], of: (n: Node) => CharSet): CharSet {
  let out = NONE;
  for (const n of seq) {
    out = union(out, of(n));
    if (!nullable(n)) break;
  }
  return out;
}

/**
 * A repetition of MANY or more whose body can split one text into iterations in several ways: two
 * alternatives that can begin alike, or an inner repetition that can run into the next iteration
 * (nothing after it in the body must be matched, and it can match what the body begins with).
 */
function findBacktracking(n: Node, source: string): string | undefined {
  if (n.kind === 'chars' || n.kind === 'empty') return undefined;
  if (n.kind === 'group') {
    for (const seq of n.alts)
      for (const x of seq) {
        const found = findBacktracking(x, source);
        if (found) return found;
      }
    return undefined;
  }
  const inner = findBacktracking(n.node, source);
  if (inner || n.max < MANY) return inner;
  const text = source.slice(n.start, n.end);
  const body = n.node;
  const alts = body.kind === 'group' ? body.alts : [[body]];
  for (let a = 0; a < alts.length; a++)
    for (let b = a + 1; b < alts.length; b++)
      if (overlaps(edge(alts[a], first), edge(alts[b], first)))
        return `catastrophic backtracking: in ${text} the alternatives "${part(source, alts[a])}" and "${part(source, alts[b])}" can match the same text, so a failing match tries exponentially many ways`;
  for (const seq of alts)
    for (let k = 0; k < seq.length; k++) {
      const x = seq[k];
      const runs = x.kind === 'repeat' ? first(x.node) : NONE;
      if (x.kind !== 'repeat' || x.max < 2 || (runs.ascii === 0n && !runs.other)) continue;
      const runsOn =
        (seq.slice(k + 1).every(nullable) && overlaps(first(x.node), first(body))) ||
        (seq.slice(0, k).every(nullable) && overlaps(last(x.node), last(body)));
      if (runsOn)
        return `catastrophic backtracking: ${text} repeats "${source.slice(x.start, x.end)}", which can run on into the next repetition, so a failing match tries exponentially many ways`;
    }
  return undefined;
}

const part = (source: string, seq: readonly Node[]) =>
  seq.length ? source.slice(seq[0].start, seq[seq.length - 1].end) : '';
