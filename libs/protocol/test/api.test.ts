import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactSchema } from '../src';

test('artifact names stay inside the attempt directory', () => {
  const ok = (name: string) => artifactSchema.safeParse({ name, contentBase64: '' }).success;
  assert.ok(ok('console.log'));
  assert.ok(ok('vars.fd.gz'));
  assert.ok(ok('.hidden'));
  for (const bad of ['.', '..', '...', '../x', 'a/b', '', 'x'.repeat(101)]) assert.equal(ok(bad), false, bad);
});
