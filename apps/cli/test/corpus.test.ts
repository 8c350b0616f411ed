import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitCodeFor, imageReportSchema, type ImageReport } from '@vmfarm/protocol';
import { buildCorpus, REPO_ROOT, type CorpusImage } from './corpus';
import { parseXml } from './xml';

// `vmfarm check` against the static corpus of fixtures/corpus/build.sh: real disk images made by
// sgdisk, fdisk, mkfs.vfat, mtools and qemu-img around Debian's EFI binaries and firmware, each good
// or broken in one known way. The manifest says what the checker must answer.

const BIN = join(REPO_ROOT, 'apps', 'cli', 'bin', 'vmfarm.js');

function check(image: CorpusImage, dir: string, format: 'json' | 'junit' | 'text') {
  const args = [BIN, 'check', join(dir, image.file), '--format', format];
  if (image.arch) args.push('--arch', image.arch);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, cmd: `vmfarm ${args.slice(1).join(' ')}` };
}

function verdictMap(report: ImageReport): Record<string, string> {
  return Object.fromEntries(report.verdicts.map((v) => [v.clause, v.verdict]));
}

function assertJson(image: CorpusImage, dir: string, clauses: readonly string[]): ImageReport | null {
  const r = check(image, dir, 'json');
  const about = `${r.cmd}\n${image.description}\nstderr: ${r.stderr.trim()}`;
  if (image.exitCode === 2) {
    // Unreadable input: exit 2, one clear line, no report, no stack trace.
    assert.equal(r.code, 2, `exit code of ${about}\nstdout: ${r.stdout.slice(0, 300)}`);
    assert.equal(r.stdout, '', about);
    assert.match(r.stderr, /^vmfarm check: [^\n]+\n$/, about);
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    assert.fail(`no JSON report (exit ${r.code}): ${about}\nstdout: ${r.stdout.slice(0, 500)}`);
  }
  const report = imageReportSchema.strict().parse(json) as ImageReport;
  assert.deepEqual(
    report.verdicts.map((v) => v.clause),
    clauses,
    `one verdict per static clause, in order: ${about}`,
  );
  // The verdicts first: a wrong one explains a wrong exit code better than the other way round.
  const differing = report.verdicts
    .filter((v) => image.verdicts[v.clause] !== v.verdict)
    .map((v) => `  ${v.clause}: got ${v.verdict} "${v.message}", want ${image.verdicts[v.clause]}`);
  assert.deepEqual(verdictMap(report), image.verdicts, `${about}\n${differing.join('\n')}`);
  for (const [clause, text] of Object.entries(image.mentions)) {
    const v = report.verdicts.find((x) => x.clause === clause);
    const haystack = `${v?.message} ${JSON.stringify(v?.evidence)}`.toLowerCase();
    assert.ok(
      haystack.includes(text.toLowerCase()),
      `${clause} should mention '${text}': ${about}\n${haystack}`,
    );
  }
  assert.equal(r.code, image.exitCode, `exit code of ${about}`);
  assert.equal(exitCodeFor(report.summary), image.exitCode, `summary vs exit code: ${about}`);
  assert.equal(report.image.format, /\.qcow2$/.test(image.file) ? 'qcow2' : 'raw', about);
  if (image.reportArch) assert.equal(report.image.arch, image.reportArch, about);
  return report;
}

function assertJUnit(image: CorpusImage, dir: string, report: ImageReport): void {
  const r = check(image, dir, 'junit');
  assert.equal(r.code, image.exitCode, `${r.cmd}: ${r.stderr}`);
  const root = parseXml(r.stdout);
  assert.equal(root.name, 'testsuites');
  assert.equal(root.children.length, 1, r.cmd);
  const suite = root.children[0];
  const count = (v: string) => String(report.verdicts.filter((x) => x.verdict === v).length);
  assert.equal(suite.name, 'testsuite');
  assert.equal(suite.attrs.tests, String(report.verdicts.length));
  assert.equal(suite.attrs.failures, count('FAIL'), r.cmd);
  assert.equal(suite.attrs.errors, count('ERROR'), r.cmd);
  assert.equal(suite.attrs.skipped, count('SKIP'), r.cmd);
  const cases = Object.fromEntries(suite.children.map((c) => [c.attrs.name, c]));
  for (const [clause, verdict] of Object.entries(image.verdicts)) {
    const kids = cases[clause]?.children.map((c) => c.name) ?? [];
    assert.ok(cases[clause], `${r.cmd}: no testcase for ${clause}`);
    const want = { FAIL: 'failure', ERROR: 'error', SKIP: 'skipped', PASS: 'system-out' }[verdict];
    assert.deepEqual(kids, [want], `${r.cmd}: ${clause} is ${verdict}`);
  }
}

function assertText(image: CorpusImage, dir: string): void {
  const r = check(image, dir, 'text');
  assert.equal(r.code, image.exitCode, `${r.cmd}: ${r.stderr}`);
  for (const [clause, verdict] of Object.entries(image.verdicts))
    assert.match(r.stdout, new RegExp(`\\b${verdict}\\s+${clause}\\s`), `${r.cmd}: ${clause} ${verdict}`);
}

test('vmfarm check answers what the static corpus manifest says', { timeout: 30 * 60 * 1000 }, async (t) => {
  const built = buildCorpus();
  if (!built.ok) {
    // In CI the corpus is part of the test: not building it is a failure, never a skip.
    if (process.env.CI === 'true') assert.fail(`the static corpus could not be built: ${built.reason}`);
    t.skip(`the static corpus could not be built: ${built.reason}`);
    return;
  }
  const { dir, clauses, images } = built.corpus;
  assert.ok(images.length >= 25, `only ${images.length} images in ${dir}`);
  // The corpus itself: every clause broken by at least two images.
  for (const clause of clauses) {
    const breaking = images.filter((i) => i.verdicts[clause] === 'FAIL').length;
    assert.ok(breaking >= 2, `${clause} fails in only ${breaking} corpus images`);
  }

  // JUnit and text renderings once per distinct verdict pattern: the JSON run covers the rest.
  const patterns = new Set<string>();
  for (const image of images) {
    await t.test(image.file, () => {
      const report = assertJson(image, dir, clauses);
      const pattern = JSON.stringify(image.verdicts);
      if (!report || patterns.has(pattern)) return;
      patterns.add(pattern);
      assertJUnit(image, dir, report);
      assertText(image, dir);
    });
  }
});
