import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { payloadManifestSchema, verdictRecordSchema } from '@vmfarm/protocol';
import { ACS_RESULTS, acsVerdicts, countAcs, mapAcsResult, parseAcsLog } from '../src/payloads';

/** Consoles of real runs of Arm's Vbsa.efi 1.0.0 on QEMU 7.2 + AAVMF (fixtures/vbsa/README.md). */
const recorded = (name: string) => readFileSync(join(__dirname, '../../test/fixtures/vbsa', name), 'utf8');
const GICV3_ACPI = recorded('gicv3-acpi.log');
const GICV2_ACPI = recorded('gicv2-acpi-hang.log');
const FDT = recorded('gicv3-fdt.log');
const GICV3_WK05 = recorded('gicv3-acpi-hang-wk05.log');
const manifest = payloadManifestSchema.parse(
  JSON.parse(readFileSync(join(__dirname, '../../../../deploy/payloads/vbsa-1.0.0/payload.json'), 'utf8')),
);
const END = manifest.endMarker;
const info = { manifest, sha256: 'f'.repeat(64) };

const byRule = (text: string, cutShort?: string) => {
  const verdicts = acsVerdicts(parseAcsLog(text, END), { ...info, cutShort });
  for (const v of verdicts) verdictRecordSchema.parse(v);
  return Object.fromEntries(verdicts.map((v) => [v.clause, v]));
};

test('GICv3 + ACPI: every selected rule has a result, and the counts equal the ACS Summary', () => {
  const log = parseAcsLog(GICV3_ACPI, END);
  assert.equal(log.suite, 'VBSA');
  assert.equal(log.version, '1.0.0');
  assert.equal(log.complete, true);
  assert.equal(log.selected?.length, 24);
  assert.deepEqual(
    log.rules.map((r) => r.id),
    log.selected,
  );
  assert.deepEqual(log.unreached, []);
  assert.deepEqual(log.summary, {
    total: 24,
    passed: 7,
    partial: 5,
    warnings: 0,
    skipped: 2,
    failed: 0,
    palNotSupported: 1,
    notImplemented: 9,
  });
  assert.deepEqual(countAcs(log), log.summary);
});

test('GICv3 + ACPI: modules, sub-rules and Arm reasons are kept', () => {
  const log = parseAcsLog(GICV3_ACPI, END);
  const gic = log.rules.find((r) => r.id === 'V_L1GI_01')!;
  assert.equal(gic.module, 'GIC');
  assert.equal(gic.result, 'PASSED(*PARTIAL)');
  assert.deepEqual(
    gic.subRules.map((s) => [s.id, s.test, s.result]),
    [
      ['B_GIC_01', '201', 'PASSED'],
      ['B_GIC_02', '202', 'SKIPPED'],
      ['B_GIC_03', '203', 'PASSED'],
      ['B_GIC_05', '205', 'PASSED'],
    ],
  );
  assert.deepEqual(gic.subRules[1]!.notes, ['Skipped at checkpoint -  1']);
  const pcie = log.rules.find((r) => r.id === 'V_L1PR_02')!;
  // A module header inside a block (PCIE) does not change the module of the rules that follow.
  assert.equal(pcie.module, 'PERIPHERAL');
  assert.ok(pcie.subRules.some((s) => s.id === 'PCI_PP_03' && s.result === 'WARNING'));
  const mm02 = log.rules.find((r) => r.id === 'V_L1MM_02')!;
  assert.deepEqual(mm02.notes, ['Rule is validated by Linux test']);
  assert.equal(log.rules.find((r) => r.id === 'V_L1TM_04')!.module, 'TIMER');
});

test('the mapping: PASSED, FAILED, SKIPPED, NOT TESTED, PASSED(*PARTIAL), WARNING, and text it does not know', () => {
  assert.deepEqual(mapAcsResult('PASSED'), { verdict: 'PASS' });
  assert.deepEqual(mapAcsResult('FAILED'), { verdict: 'FAIL' });
  assert.deepEqual(mapAcsResult('SKIPPED'), { verdict: 'SKIP' });
  assert.deepEqual(mapAcsResult('NOT TESTED (TEST NOT IMPLEMENTED)'), { verdict: 'SKIP' });
  assert.deepEqual(mapAcsResult('NOT TESTED (PAL NOT SUPPORTED)'), { verdict: 'SKIP' });
  assert.deepEqual(mapAcsResult('PASSED(*PARTIAL)'), { verdict: 'PASS', qualifier: 'PARTIAL' });
  assert.deepEqual(mapAcsResult('WARNING'), { verdict: 'PASS', qualifier: 'WARNING' });
  assert.equal(mapAcsResult('STATUS 7'), null);
  for (const r of ACS_RESULTS) assert.ok(mapAcsResult(r), r);
});

test('GICv3 + ACPI as verdicts: namespaced rules, qualifiers, reasons and related clauses', () => {
  const v = byRule(GICV3_ACPI);
  assert.equal(Object.keys(v).length, 24);
  assert.equal(v['VBSA:V_L1PE_02']!.verdict, 'PASS');
  assert.equal(v['VBSA:V_L1PE_02']!.qualifier, undefined);
  assert.equal(v['VBSA:V_L1GI_01']!.verdict, 'PASS');
  assert.equal(v['VBSA:V_L1GI_01']!.qualifier, 'PARTIAL');
  assert.deepEqual(v['VBSA:V_L1GI_01']!.evidence.relatedClauses, ['PLAT-GIC']);
  assert.deepEqual(v['VBSA:V_L1PP_00']!.evidence.relatedClauses, ['PLAT-GIC', 'PLAT-TIMER']);
  assert.equal(v['VBSA:V_L1WK_02']!.evidence.relatedClauses, undefined);
  assert.equal(v['VBSA:V_L1MM_02']!.verdict, 'SKIP');
  assert.match(v['VBSA:V_L1MM_02']!.message, /PAL NOT SUPPORTED.*validated by Linux test/);
  assert.equal(v['VBSA:V_L1SM_02']!.verdict, 'SKIP');
  assert.match(v['VBSA:V_L1SM_02']!.message, /No SMMU Controllers are discovered/);
  assert.equal(v['VBSA:V_L1TM_03']!.verdict, 'SKIP');
  assert.match(v['VBSA:V_L1TM_03']!.message, /TEST NOT IMPLEMENTED/);
  const counts = { PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0 };
  for (const x of Object.values(v)) counts[x.verdict]++;
  assert.deepEqual(counts, { PASS: 12, FAIL: 0, SKIP: 12, ERROR: 0 });
  assert.equal(Object.values(v).filter((x) => x.qualifier === 'PARTIAL').length, 5);
  assert.deepEqual(v['VBSA:V_L1PE_01']!.evidence.payload, {
    name: 'vbsa',
    version: '1.0.0',
    sha256: 'f'.repeat(64),
  });
});

test('GICv2 + ACPI hangs in V_L1WK_02: results before it stand, it and every later rule are ERROR, none PASS', () => {
  const log = parseAcsLog(GICV2_ACPI, END);
  assert.equal(log.complete, false);
  assert.equal(log.summary, null);
  const hung = log.rules.at(-1)!;
  assert.equal(hung.id, 'V_L1WK_02');
  assert.equal(hung.result, null);
  const v = byRule(GICV2_ACPI, 'the time limit of 120 s ran out');
  assert.equal(v['VBSA:V_L1WK_02']!.verdict, 'ERROR');
  assert.match(v['VBSA:V_L1WK_02']!.message, /started, no result: the time limit of 120 s ran out/);
  for (const id of log.unreached) {
    assert.equal(v[`VBSA:${id}`]!.verdict, 'ERROR');
    assert.match(v[`VBSA:${id}`]!.message, /never reached/);
  }
  assert.deepEqual(log.unreached, [
    'V_L1WK_03',
    'V_L1WK_04',
    'V_L1WK_05',
    'V_L1WK_06',
    'V_L1WK_07',
    'V_L1WK_08',
    'V_L1WK_09',
    'V_L1PR_01',
    'V_L1PR_02',
  ]);
  assert.equal(Object.keys(v).length, 24);
  assert.equal(v['VBSA:V_L1TM_01']!.verdict, 'PASS');
});

test('GICv3 + ACPI can hang too, here in V_L1WK_05: V_L1WK_02 passed, V_L1WK_05 and the rules after it ERROR', () => {
  const log = parseAcsLog(GICV3_WK05, END);
  assert.equal(log.complete, false);
  assert.equal(log.rules.at(-1)!.id, 'V_L1WK_05');
  const v = byRule(GICV3_WK05, 'the time limit of 120 s ran out');
  assert.equal(v['VBSA:V_L1WK_02']!.verdict, 'PASS');
  assert.equal(v['VBSA:V_L1WK_05']!.verdict, 'ERROR');
  assert.deepEqual(log.unreached, [
    'V_L1WK_06',
    'V_L1WK_07',
    'V_L1WK_08',
    'V_L1WK_09',
    'V_L1PR_01',
    'V_L1PR_02',
  ]);
  assert.equal(Object.keys(v).length, 24);
});

test('the complete log cut anywhere: no rule without a printed result is ever PASS', () => {
  // Every 97th character, and every character of a PASSED(*PARTIAL) result line (a cut there
  // must not read as PASSED).
  const at = GICV3_ACPI.indexOf('Result:  PASSED(*PARTIAL)');
  const cuts = [...Array(Math.ceil(GICV3_ACPI.length / 97)).keys()].map((i) => i * 97);
  for (let i = at; i < at + 30; i++) cuts.push(i);
  const full = new Map(parseAcsLog(GICV3_ACPI, END).rules.map((r) => [`VBSA:${r.id}`, r.result]));
  for (const n of cuts) {
    const text = GICV3_ACPI.slice(0, n);
    const log = parseAcsLog(text, END);
    const verdicts = acsVerdicts(log, { ...info, cutShort: 'cut' });
    const printed = new Map(log.rules.map((r) => [`VBSA:${r.id}`, r.result]));
    for (const v of verdicts) {
      if (v.verdict === 'ERROR') continue;
      assert.ok(printed.get(v.clause), `${v.clause} is ${v.verdict} at ${n} without a printed result`);
      assert.equal(printed.get(v.clause), full.get(v.clause), `${v.clause} at ${n}`);
    }
    if (log.selected) assert.equal(verdicts.length, 24, `at ${n}`);
    else
      assert.deepEqual(
        verdicts.map((x) => [x.clause, x.verdict]),
        [['VBSA:RUN', 'ERROR']],
      );
  }
});

test('FDT only: VBSA needs ACPI and stops before any rule; the run is ERROR naming the last line', () => {
  const log = parseAcsLog(FDT, END);
  assert.equal(log.rules.length, 0);
  const v = byRule(FDT, 'the VM stopped');
  assert.deepEqual(Object.keys(v), ['VBSA:RUN']);
  assert.equal(v['VBSA:RUN']!.verdict, 'ERROR');
  assert.match(v['VBSA:RUN']!.message, /printed no rule/);
});
