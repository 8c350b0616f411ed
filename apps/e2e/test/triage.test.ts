import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { corpus, FarmError, type Farm } from '../src/farm';
import { closeFarmPage, openFarmPage } from '../src/farm-page';

// A release team's known issue in a real browser against a real farm (`vmfarm serve`, a real agent
// running the static suite on corpus images): a FAIL the new image brought is a regression; a known
// issue added on the known issues page turns it into FAIL (known) and takes it off the regression
// list; once the issue expires it is a regression again.

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-e2e-triage-'));
const images = corpus();
/** Two versions of one image: the second breaks its primary GPT header (44 MiB each, mostly holes). */
const V1 = images.image('good-aa64.raw');
const V2 = images.image('gpt-primary-header-crc.raw');
const WAIT = { timeout: 180_000 };
const TEST = { timeout: 600_000 };
/** How long the issue lives: long enough to check it in the page, short enough to wait for. */
const LIFETIME_S = 45;

let farm: Farm;
let browser: Browser;
let page: Page;

before(async () => {
  assert.equal(V1.verdicts['IMG-GPT'], 'PASS');
  assert.equal(V2.verdicts['IMG-GPT'], 'FAIL');
  ({ farm, browser, page } = await openFarmPage(join(dir, 'data'), { agents: 1 }));
});

after(() => closeFarmPage({ farm, browser }, dir));

/** A schedule's matrix run now, until settled (its retries before a regression included). */
async function runSettled(scheduleId: string): Promise<string> {
  const m = (await farm.api.call('POST', `/api/schedules/${scheduleId}/run`)) as { id: string };
  const deadline = Date.now() + WAIT.timeout;
  for (;;) {
    const t = (await farm.api.call('GET', `/api/matrices/${m.id}/triage`)) as {
      settlement: { state: string } | null;
    };
    if (t.settlement?.state === 'settled') return m.id;
    if (Date.now() > deadline) throw new FarmError(`matrix ${m.id} not settled: ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('a known issue added in the UI makes a FAIL known until it expires', TEST, async () => {
  const tag = 'e2e-triage';
  await farm.api.upload(V1.path, { name: 'distro', version: '1', tags: [tag] });
  const schedule = (await farm.api.call('POST', '/api/schedules', {
    name: 'nightly',
    cron: '0 2 * * *',
    images: { tags: [tag] },
    targets: ['static'],
    suites: ['static'],
  })) as { id: string };
  await runSettled(schedule.id);
  await farm.api.upload(V2.path, { name: 'distro', version: '2', tags: [tag] });
  const failing = await runSettled(schedule.id);

  // The regression, after the farm re-ran the cell once and it failed again.
  const regressions = async () => {
    await page.goto(`${farm.url}/schedules/${schedule.id}/regressions`);
    await page.getByText(/^Latest /).waitFor();
  };
  await regressions();
  const table = page.getByRole('table', { name: 'regressions' });
  assert.match(
    (await table.getByRole('row').filter({ hasText: 'IMG-GPT' }).textContent()) ?? '',
    /^regression\s*distro\s*static\s*IMG-GPT/,
  );

  // The release team adds a known issue on the known issues page.
  await page.goto(`${farm.url}/known-issues`);
  const form = page.getByRole('form', { name: 'new known issue' });
  await form.getByLabel('Title').fill('Backup GPT header CRC');
  await form.getByLabel('Owner').fill('distro release team');
  await form.getByLabel('Reason', { exact: true }).fill('the 4k installer writes a stale backup header');
  await form.getByLabel('Link').fill('https://bugs.example.org/4242');
  await form.getByLabel('Clauses or rule IDs (comma-separated; * and ? match)').fill('IMG-GPT');
  await form.getByLabel('Image name pattern').fill('distro');
  await form.getByLabel(/^Expires/).fill(`${LIFETIME_S}s`);
  await form.getByRole('button', { name: 'Add known issue' }).click();
  const issues = page.getByRole('table', { name: 'known issues' });
  const row = issues.getByRole('row').filter({ hasText: 'Backup GPT header CRC' });
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /active/);
  const added = Date.now();

  // The matrix shows the cell as FAIL (known), still a FAIL, counted apart.
  await page.goto(`${farm.url}/matrices/${failing}`);
  const known = page.getByLabel('static: FAIL (known: Backup GPT header CRC)');
  await known.first().waitFor();
  assert.equal(await known.first().textContent(), 'static F');
  assert.match((await page.locator('p.counts').textContent()) ?? '', /FAIL 0 · FAIL \(known\) 1/);

  // Off the regression list, listed as known.
  await regressions();
  assert.match((await page.getByText(/^Latest /).textContent()) ?? '', /0 regressions, 0 fixes, 1 known/);
  assert.equal(await page.getByRole('table', { name: 'regressions' }).count(), 0);
  const knownRow = page
    .getByRole('table', { name: 'known failures' })
    .getByRole('row')
    .filter({ hasText: 'IMG-GPT' });
  assert.match((await knownRow.textContent()) ?? '', /Backup GPT header CRC/);

  // Certification: the waived clause stays FAIL, named; never all PASS while the waiver holds.
  await page.goto(`${farm.url}/certification/targets/static`);
  await page.getByTestId('waivers').waitFor();
  assert.match((await page.getByTestId('waivers').textContent()) ?? '', /Not all PASS: 1 clause FAIL/);

  // After its expiry: a regression again, and the cell a plain FAIL.
  await new Promise((r) => setTimeout(r, Math.max(0, added + LIFETIME_S * 1000 + 1000 - Date.now())));
  await page.goto(`${farm.url}/known-issues`);
  await issues
    .getByRole('row')
    .filter({ hasText: 'Backup GPT header CRC' })
    .filter({ hasText: 'expired' })
    .waitFor();
  await regressions();
  assert.match((await page.getByText(/^Latest /).textContent()) ?? '', /1 regression, 0 fixes, 0 known/);
  assert.match(
    (await page
      .getByRole('table', { name: 'regressions' })
      .getByRole('row')
      .filter({ hasText: 'IMG-GPT' })
      .textContent()) ?? '',
    /^regression\s*distro\s*static\s*IMG-GPT/,
  );
  await page.goto(`${farm.url}/matrices/${failing}`);
  await page.getByTestId('matrix-state').filter({ hasText: 'done' }).waitFor(WAIT);
  await page.locator('[aria-label="static: FAIL"]').first().waitFor();
  assert.equal(await page.getByLabel(/known/).count(), 0);
});
