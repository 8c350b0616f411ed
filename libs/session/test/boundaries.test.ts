/**
 * The dependency rules of DESIGN.md as the linter enforces them (eslint.config.mjs): each case lints a
 * file that is not on disk, as if it were at `path`, through ESLint's Node API with the repository's
 * own configuration, and expects the rule that must refuse it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const ROOT = join(__dirname, '../../../..');
const eslint = new ESLint({ cwd: ROOT });

async function rulesBroken(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = x;\n`, { filePath: join(ROOT, path) });
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

test('a suite importing a driver fails the lint; importing the session contract passes', async () => {
  const broken = await rulesBroken(
    'libs/suites/src/live/wrong.ts',
    "import { boot as x } from '@vmfarm/targets';",
  );
  assert.equal(broken.length, 1, broken.join('\n'));
  assert.match(
    broken[0],
    /^@nx\/enforce-module-boundaries: A project tagged with "scope:suites" can only depend on libs tagged with "scope:session", "scope:image", "scope:protocol"/,
  );
  assert.deepEqual(
    await rulesBroken(
      'libs/suites/src/live/right.ts',
      "import { SessionTimeoutError as x } from '@vmfarm/session';",
    ),
    [],
  );
});

test("a package importing another's dist/ or src/ fails the lint, by name or by relative path", async () => {
  for (const [path, code] of [
    ['libs/suites/src/x.ts', "import type { VmSession as x } from '@vmfarm/session/dist/src/session';"],
    ['apps/cli/test/x.test.ts', "import { buildDisk as x } from '@vmfarm/suites/dist/test/images';"],
    ['libs/suites/test/x.ts', "import { FakeVm as x } from '../../session/testing/fake-vm';"],
    ['apps/agent/src/x.ts', "import { boot as x } from '../../../libs/targets/src/qemu';"],
  ]) {
    const broken = await rulesBroken(path, code);
    assert.ok(
      broken.some((m) => m.startsWith('no-restricted-imports:')),
      `${path}: ${code}\n${broken.join('\n')}`,
    );
  }
  // A test of a package reaching its own sources, and a declared entry point, are fine.
  assert.deepEqual(
    await rulesBroken(
      'apps/controller/test/helpers/x.ts',
      "import { newToken as x } from '../../src/auth/secrets';",
    ),
    [],
  );
  assert.deepEqual(
    await rulesBroken('libs/suites/test/x.ts', "import { FakeVm as x } from '@vmfarm/session/testing';"),
    [],
  );
});

test('a driver may import the contract and the host adapters; no lib imports an app', async () => {
  assert.deepEqual(
    await rulesBroken(
      'libs/targets/src/x.ts',
      "import { spawnGuarded as x } from '@vmfarm/host';\nimport '@vmfarm/session';",
    ),
    [],
  );
  const suites = await rulesBroken('libs/targets/src/x.ts', "import { SUITES as x } from '@vmfarm/suites';");
  assert.match(
    suites.join('\n'),
    /enforce-module-boundaries: A project tagged with "scope:driver" can only depend on/,
  );
  const app = await rulesBroken('libs/session/src/x.ts', "import { runAgent as x } from '@vmfarm/agent';");
  assert.match(app.join('\n'), /enforce-module-boundaries/);
});
