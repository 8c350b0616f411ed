import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matrixRequestSchema, readyPatternProblem } from '../src';

const SHA = 'a'.repeat(64);

test('catastrophic backtracking is refused with where and why; linear patterns pass', () => {
  for (const [pattern, why] of [
    ['(\\w|\\w)*#', /in \(\\w\|\\w\)\* the alternatives "\\w" and "\\w" can match the same text/],
    ['(a+)+$', /\(a\+\)\+ repeats "a\+", which can run on into the next repetition/],
    ['(\\w+\\s?)*$', /repeats "\\w\+"/],
    ['(.*)*x', /repeats "\.\*"/],
    ['(?:a|b|a)*', /alternatives "a" and "a"/],
    ['((ab)*)*', /repeats "\(ab\)\*"/],
    ['(a{1,3}){1,20}x', /repeats "a\{1,3\}"/],
  ] as const)
    assert.match(
      readyPatternProblem(pattern) ?? 'accepted',
      new RegExp(`^catastrophic backtracking: .*${why.source}`),
      pattern,
    );
  for (const pattern of [
    'VMFARM-READY',
    'login: ?$',
    '^root@\\w+:~# ?$',
    '(\\w+ )*login:',
    '(\\d+\\.)+\\d+',
    '(foo|bar)+',
    '[\\w-]+@[\\w.-]+$',
    '^Welcome to .*$',
    '(a|b){2,5}',
  ])
    assert.equal(readyPatternProblem(pattern), undefined, pattern);
});

test('what the linear-time engine cannot run, and what is no regular expression, is refused', () => {
  assert.match(readyPatternProblem('(a)\\1')!, /^a back-reference at 3 \("\\1"\) is not supported/);
  assert.match(readyPatternProblem('(?<n>a)\\k<n>')!, /back-reference/);
  assert.match(readyPatternProblem('ready(?=!)')!, /^lookaround at 5 .* linear-time engine \(RE2\)$/);
  assert.match(readyPatternProblem('(?<!x)y')!, /^lookaround/);
  assert.match(readyPatternProblem('[')!, /^not a valid regular expression: /);
});

test("a matrix's readiness pattern is checked when submitted, with the reason", () => {
  const bad = matrixRequestSchema.safeParse({
    images: [SHA],
    targets: ['t'],
    suites: ['boot'],
    ready: '(\\w|\\w)*#',
  });
  assert.equal(bad.success, false);
  assert.deepEqual(
    bad.error!.issues.map((i) => i.path.join('.')),
    ['ready'],
  );
  assert.match(bad.error!.issues[0].message, /^catastrophic backtracking: /);
  assert.ok(
    matrixRequestSchema.safeParse({ images: [SHA], targets: ['t'], suites: ['boot'], ready: 'login:' })
      .success,
  );
});
