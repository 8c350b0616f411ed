#!/usr/bin/env node
// Readiness patterns on the console, measured in the same run (after `npm run build`):
//  - the farm's own end-of-boot pattern (a JavaScript RegExp) and the same with a user's pattern on RE2
//    (re2-wasm, what agents run), over a recorded reference-guest boot repeated to 1 MiB: ms per MiB;
//  - the hostile `(\w|\w)*#` on RE2 over 1 MiB of 40-letter words, and on JavaScript's engine over one
//    word of n letters for growing n: its time doubles per letter (a 40-letter word takes hours).
// Usage: node bench/ready-pattern-bench.mjs
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
let suites;
try {
  suites = require(join(root, 'libs/suites/dist/src/index.js'));
} catch {
  process.stderr.write('ready-pattern-bench: not built yet; run `npm run build` first\n');
  process.exit(2);
}

const boot = readFileSync(join(root, 'libs/session/testing/fixtures/reference-guest.log'), 'utf8').replace(
  /VMFARM-READY/g,
  'VMFARM-NOT-YET',
);
const MiB = 1 << 20;
const console1MiB = boot.repeat(Math.ceil(MiB / boot.length)).slice(0, MiB);
const words1MiB = `${'a'.repeat(40)} `.repeat(Math.ceil(MiB / 41)).slice(0, MiB);

function msPer(re, text, runs = 5) {
  re.exec(text); // warm up (and load the engine)
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) re.exec(text);
  return Number(process.hrtime.bigint() - start) / 1e6 / runs;
}

const farm = suites.endPattern(suites.readyPatterns());
const user = suites.endPattern(suites.readyPatterns('^myos login: ?$'));
const hostile = suites.endPattern(suites.readyPatterns('(\\w|\\w)*#'));
const jsFarm = msPer(farm, console1MiB);
const re2User = msPer(user, console1MiB);
process.stdout.write(`farm pattern, JavaScript RegExp, 1 MiB console: ${jsFarm.toFixed(1)} ms\n`);
process.stdout.write(
  `farm + user pattern on RE2 (re2-wasm), 1 MiB console: ${re2User.toFixed(1)} ms (${(re2User / jsFarm).toFixed(1)}x the RegExp)\n`,
);
process.stdout.write(
  `(\\w|\\w)*# on RE2, 1 MiB of 40-letter words: ${msPer(hostile, words1MiB).toFixed(1)} ms\n`,
);
const js = /(\w|\w)*#/m;
let previous;
for (const n of [16, 18, 20, 22]) {
  const ms = msPer(js, 'a'.repeat(n), 1);
  process.stdout.write(
    `(\\w|\\w)*# on JavaScript's engine, one ${n}-letter word: ${ms.toFixed(1)} ms${previous ? ` (${(ms / previous).toFixed(1)}x the ${n - 2}-letter word)` : ''}\n`,
  );
  previous = ms;
}
