import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLAUSES, parseClausesMarkdown } from '../src';

const specPath = join(__dirname, '../../../../../shared/spec/CLAUSES.md');

test(
  'bundled clause catalogue equals shared/spec/CLAUSES.md',
  { skip: !existsSync(specPath) && 'spec not beside the repository' },
  () => {
    const parsed = parseClausesMarkdown(readFileSync(specPath, 'utf8'));
    assert.deepEqual(
      parsed.map((c) => [c.id, c.subject, c.level]),
      CLAUSES.map((c) => [c.id, c.subject, c.level]),
    );
  },
);

test('clause ids are unique', () => {
  assert.equal(new Set(CLAUSES.map((c) => c.id)).size, CLAUSES.length);
});
