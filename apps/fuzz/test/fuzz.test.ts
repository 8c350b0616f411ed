/**
 * CI mode of the parser fuzzer: a bounded, deterministic slice of each target's inputs (the same
 * numbers every run), at most a few seconds each. A crash or hang fails the test and keeps the input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { freshCounts, fuzz, type Finding } from '../src/engine';
import { saveFinding } from '../src/findings';
import { TARGETS } from '../src/targets';

const INPUTS = Number(process.env.VMFARM_FUZZ_INPUTS ?? 1500);
const SECONDS = Number(process.env.VMFARM_FUZZ_SECONDS ?? 4);
const out = mkdtempSync(join(tmpdir(), 'vmfarm-fuzz-'));

for (const target of TARGETS) {
  test(`fuzz ${target.name}: up to ${INPUTS} inputs, no crash and no hang`, async () => {
    const seeds = await target.seeds();
    assert.ok(seeds.length > 0);
    const findings: string[] = [];
    const counts = await fuzz(target, seeds, freshCounts(), {
      to: INPUTS,
      deadline: performance.now() + SECONDS * 1000,
      onFinding: (f: Finding, input) =>
        findings.push(`${f.kind} at input ${f.index}: ${saveFinding(out, f, input)}\n${f.error ?? ''}`),
    });
    assert.ok(counts.inputs > 0);
    assert.deepEqual(findings, []);
  });
}
