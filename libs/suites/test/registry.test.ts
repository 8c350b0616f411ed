import assert from 'node:assert/strict';
import { test } from 'node:test';
import { suiteInfoSchema } from '@vmfarm/protocol';
import { checkRegistry, getSuite, staticSuite, suiteInfo, SUITES, suitesForTarget, type Suite } from '../src';

test('the registry cites only known clauses; every clause but GUEST-VIRTIO has a suite', () => {
  // The guest's drivers for virtio-mmio, Xen PV and the balloon are not observable from QEMU's PCIe bus.
  assert.deepEqual(
    checkRegistry().map((c) => c.id),
    ['GUEST-VIRTIO'],
  );
});

test('lookups', () => {
  assert.equal(getSuite('static'), staticSuite);
  assert.throws(() => getSuite('nope'), /unknown suite 'nope'/);
  assert.deepEqual(suitesForTarget('static'), [staticSuite]);
  for (const info of suiteInfo()) suiteInfoSchema.parse(info);
  assert.equal(suiteInfo().length, SUITES.length);
});

test('bad registries are refused with every problem', () => {
  const bad: Suite = { ...staticSuite, clauses: ['IMG-GPT', 'NOPE', 'FW-UEFI', 'IMG-GPT'] };
  assert.throws(
    () => checkRegistry([staticSuite, bad]),
    /registered twice.*unknown clause NOPE.*cites FW-UEFI, a clause about the vm.*lists clause IMG-GPT twice/,
  );
});
