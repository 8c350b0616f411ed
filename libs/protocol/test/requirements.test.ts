import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLAUSES, parseRequirementsMarkdown, REQUIREMENTS } from '../src';

const specPath = join(__dirname, '../../../../../shared/spec/CLAUSES.md');

test(
  'bundled requirement texts equal shared/spec/CLAUSES.md',
  { skip: !existsSync(specPath) && 'spec not beside the repository' },
  () => {
    assert.deepEqual(parseRequirementsMarkdown(readFileSync(specPath, 'utf8')), REQUIREMENTS);
  },
);

test('every clause has its requirement text', () => {
  assert.deepEqual(Object.keys(REQUIREMENTS).sort(), CLAUSES.map((c) => c.id).sort());
});
