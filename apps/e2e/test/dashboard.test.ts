import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Api, corpus, type Farm } from '../src/farm';
import { closeFarmPage, openFarmPage } from '../src/farm-page';

// The dashboard in a real browser against a real farm: `vmfarm serve` (controller, SQLite, Redis from
// REDIS_URL or its own) and agents as processes, images from the static corpus. The farm starts with
// no agent, so the first test can watch queued runs fill in once one starts.

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-e2e-'));
const images = corpus();
const GOOD = images.image('good-aa64.raw');
const BROKEN = images.image('gpt-primary-header-crc.raw');
// Each scenario has bytes of its own: the controller stores images by content, and bytes it already
// has keep their owner and metadata (a second upload under another name would test the first one).
/** Two versions of one image for the schedule: the second breaks its GPT. */
const DISTRO_1 = images.image('good-aa64-lowercase.raw');
const DISTRO_2 = images.image('gpt-primary-entries-crc.raw');
/** A vendor's own image, which no one else uploads. */
const SECRET = images.image('good-aa64-mixedcase-lfn.raw');
/** The matrix cancelled before any agent runs it. */
const CANCELLED = images.image('good-aa64-v2.qcow2');
/** Bounds waits on runs (a loaded 2-core CI host); a hang fails instead of stalling the run. */
const WAIT = { timeout: 180_000 };
const TEST = { timeout: 600_000 };

let farm: Farm;
let browser: Browser;
let page: Page;

before(async () => {
  assert.equal(GOOD.verdicts['IMG-GPT'], 'PASS');
  assert.equal(BROKEN.verdicts['IMG-GPT'], 'FAIL');
  assert.equal(DISTRO_1.verdicts['IMG-GPT'], 'PASS');
  assert.equal(DISTRO_2.verdicts['IMG-GPT'], 'FAIL');
  ({ farm, browser, page } = await openFarmPage(join(dir, 'data'), { agents: 0 }));
});

after(() => closeFarmPage({ farm, browser }, dir));

const progress = (p: Page) => p.getByRole('progressbar').textContent();

let failingRun: { matrixId: string };

test('a queued matrix is cancelled from its page: every cell SKIP, with who and why', TEST, async () => {
  const sha = await farm.api.upload(CANCELLED.path, { name: 'to-cancel' });
  const matrix = await farm.api.submit([sha], ['static'], ['static']);
  await page.goto(`${farm.url}/matrices/${matrix.id}`);
  const grid = page.getByRole('table', { name: 'matrix grid' });
  await grid.getByLabel('static: queued').waitFor();
  // A second click confirms: the first only asks.
  await page.getByRole('button', { name: 'Cancel matrix' }).click();
  await page.getByLabel('Reason (optional)').fill('wrong image');
  await page.getByRole('button', { name: 'Cancel 1 run' }).click();
  await grid.getByLabel('static: SKIP').waitFor();
  assert.equal(await page.getByTestId('matrix-state').textContent(), 'cancelled');
  assert.match(
    (await page.getByTestId('matrix-cancelled').textContent()) ?? '',
    /^Cancelled by .*: wrong image;/,
  );
  assert.equal(
    await page.getByRole('button', { name: 'Cancel matrix' }).count(),
    0,
    'nothing left to cancel',
  );
  assert.equal(await progress(page), '1/1');
  // The run says why it was not run.
  await grid.getByLabel('static: SKIP').click();
  await page.waitForURL(/\/runs\//);
  await page
    .getByRole('table', { name: 'verdicts' })
    .getByText(/cancelled by .*: wrong image/)
    .first()
    .waitFor();
});

test('a matrix submitted through the API fills the grid live', TEST, async () => {
  const good = await farm.api.upload(GOOD.path, { name: 'good-aa64' });
  const broken = await farm.api.upload(BROKEN.path, { name: 'gpt-crc' });
  const matrix = await farm.api.submit([good, broken], ['static'], ['static']);
  failingRun = { matrixId: matrix.id };

  await page.goto(`${farm.url}/matrices/${matrix.id}`);
  const grid = page.getByRole('table', { name: 'matrix grid' });
  await grid.waitFor();
  // No agent yet: both runs wait in the queue.
  assert.equal(await progress(page), '0/2');
  assert.equal(await grid.getByLabel('static: queued').count(), 2);
  // Marks this document: a reload or navigation would lose it.
  await page.evaluate(() => Object.assign(window, { sameDocument: true }));

  await farm.startAgent();
  await page.getByRole('progressbar').filter({ hasText: '2/2' }).waitFor(WAIT);
  const row = (label: string) =>
    grid.getByRole('row').filter({ has: page.getByRole('cell', { name: label }) });
  assert.equal(await row('good-aa64').getByLabel('static: PASS').textContent(), 'static P');
  assert.equal(await row('gpt-crc').getByLabel('static: FAIL').textContent(), 'static F');
  // A failed cell says which clauses failed, in the grid itself (and in full on hover).
  const failing = row('gpt-crc').getByLabel('static failed clauses: IMG-GPT');
  assert.equal(await failing.textContent(), 'IMG-GPT');
  assert.equal(await failing.getAttribute('title'), 'static failed IMG-GPT');
  assert.equal(await row('good-aa64').locator('.failing').count(), 0);
  assert.equal(await page.getByTestId('matrix-state').textContent(), 'done');
  assert.equal(await page.evaluate(() => (window as { sameDocument?: boolean }).sameDocument), true);
});

test(
  'a failing cell opens its run: the failed clause with its level, message and evidence',
  TEST,
  async () => {
    await page.goto(`${farm.url}/matrices/${failingRun.matrixId}`);
    await page.getByLabel('static: FAIL').click();
    await page.waitForURL(/\/runs\//);
    const verdicts = page.getByRole('table', { name: 'verdicts' });
    await verdicts.waitFor();
    const gpt = verdicts.getByRole('row').filter({ hasText: 'IMG-GPT' });
    assert.equal(await gpt.getByLabel('FAIL').textContent(), 'F');
    const text = (await gpt.textContent()) ?? '';
    assert.match(text, /MUST/);
    // The corpus says what the message or evidence of this failure must mention (e.g. the CRC).
    assert.ok(
      text.toLowerCase().includes(BROKEN.mentions['IMG-GPT'].toLowerCase()),
      `IMG-GPT row lacks '${BROKEN.mentions['IMG-GPT']}': ${text}`,
    );
    // Evidence is shown as data, not only summarised.
    assert.match((await gpt.locator('pre.json').textContent()) ?? '', /\{[\s\S]*"/);
    const attempts = page.getByRole('table', { name: 'attempts' });
    assert.equal(await attempts.getByRole('row').count(), 2);
  },
);

test('a schedule run twice with a changed result lists the regression', TEST, async () => {
  const tag = 'e2e-nightly';
  await farm.api.upload(DISTRO_1.path, { name: 'distro', version: '1', tags: [tag] });

  await page.goto(`${farm.url}/schedules`);
  const form = page.getByRole('form', { name: 'new schedule' });
  await form.getByLabel('Name').fill('nightly');
  await form.getByLabel('Cron').fill('0 2 * * *');
  await form.getByLabel('Images (comma-separated)').fill(tag);
  await form.getByLabel('Targets (comma-separated, or all)').fill('static');
  await form.getByLabel('Suites (comma-separated, or all)').fill('static');
  await form.getByRole('button', { name: 'Create schedule' }).click();
  const row = page.getByRole('table', { name: 'schedules' }).getByRole('row').filter({ hasText: 'nightly' });
  await row.waitFor();

  const runNow = async () => {
    await page.goto(`${farm.url}/schedules`);
    await row.getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL(/\/matrices\//);
    const id = new URL(page.url()).pathname.split('/').pop()!;
    try {
      await page.getByTestId('matrix-state').filter({ hasText: 'done' }).waitFor(WAIT);
    } catch (err) {
      // Whose fault: the farm's (the run never finished) or the page's (it missed that it did).
      const api = await farm.api.call('GET', `/api/matrices/${id}`);
      const shown = await page.getByTestId('matrix-state').textContent();
      throw new Error(
        `${(err as Error).message}\npage shows "${shown}"; the API says ${JSON.stringify(api)}`,
      );
    }
    // A cell that went PASS → FAIL is re-run once before the regression is reported: the matrix
    // is settled when that retry is done too (the page shows it running again meanwhile).
    for (const deadline = Date.now() + WAIT.timeout; ; ) {
      const t = (await farm.api.call('GET', `/api/matrices/${id}/triage`)) as {
        settlement: { state: string } | null;
      };
      if (t.settlement?.state === 'settled') break;
      if (Date.now() > deadline) throw new Error(`matrix ${id} not settled: ${JSON.stringify(t)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  await runNow();
  // The next version of the same image name breaks its GPT: the schedule picks the newest version.
  await farm.api.upload(DISTRO_2.path, { name: 'distro', version: '2', tags: [tag] });
  await runNow();

  await page.goto(`${farm.url}/schedules`);
  await row.getByRole('link', { name: 'Regressions' }).click();
  const table = page.getByRole('table', { name: 'regressions' });
  await table.waitFor();
  const regression = table.getByRole('row').filter({ hasText: 'IMG-GPT' });
  assert.match((await regression.textContent()) ?? '', /^regression\s*distro\s*static\s*IMG-GPT/);
  assert.equal(await regression.getByLabel('PASS').textContent(), 'P');
  assert.equal(await regression.getByLabel('FAIL').textContent(), 'F');
  assert.match((await page.getByText(/^Latest /).textContent()) ?? '', /1 regression, 0 fixes/);

  // The same story over time: the trend of the schedule's two matrices and the clause's history.
  await page.getByRole('link', { name: 'Pass-rate trend and history' }).click();
  await page.waitForURL(/\/history\?scheduleId=/);
  const chart = page.getByLabel('pass-rate trend');
  await chart.waitFor();
  // One point per matrix of the schedule on the pass-rate line (drawn by the chart library).
  await chart.locator('.recharts-line-dot').nth(1).waitFor();
  assert.equal(await chart.locator('.recharts-line-dot').count(), 2);
  await page.getByLabel('imageName').fill('distro');
  await page.getByLabel('clause').fill('IMG-GPT');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/imageName=distro/);
  // The header and one series, distro × static × IMG-GPT (the other images' rows gone).
  await page.waitForFunction(
    () => document.querySelectorAll('table[aria-label="history"] tbody tr').length === 1,
  );
  const series = page.getByRole('table', { name: 'history' }).getByRole('row').filter({ hasText: 'IMG-GPT' });
  const cells = await series.getByRole('cell').allTextContents();
  assert.deepEqual(cells.slice(0, 5), ['distro', 'static', 'IMG-GPT', 'F', '2']);
  assert.equal(cells[5].replace(/\s/g, ''), 'PF');
  // First failure and last pass are set, not fixed.
  assert.match(cells[6], /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.match(cells[7], /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.equal(cells[8], '—');
});

test("a vendor logged in through the login page does not see another vendor's images", TEST, async () => {
  const token = async (name: string, tenant: string) =>
    ((await farm.api.call('POST', '/api/tokens', { name, role: 'vendor', tenant })) as { token: string })
      .token;
  const acme = await token('acme-ci', 'acme');
  const globex = await token('globex-ci', 'globex');
  const secret = await new Api(farm.url, acme).upload(SECRET.path, { name: 'acme-secret' });
  const stored = (await new Api(farm.url, acme).call('GET', `/api/images/${secret}`)) as { owner: unknown };
  assert.equal(stored.owner, 'acme');

  const login = async (t: string) => {
    const p = await (await browser.newContext()).newPage();
    await p.goto(`${farm.url}/images`);
    await p.waitForURL(/\/login/);
    await p.getByLabel('API token').fill(t);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.waitForURL(/\/images$/);
    await p.getByRole('heading', { name: 'Images' }).waitFor();
    return p;
  };

  // The owner sees it: the page works and the image is there to be hidden.
  const owner = await login(acme);
  await owner.getByRole('table', { name: 'images' }).getByText('acme-secret').waitFor();
  assert.match((await owner.getByTestId('me').textContent()) ?? '', /acme/);

  const other = await login(globex);
  assert.match((await other.getByTestId('me').textContent()) ?? '', /globex-ci \(vendor, globex\)/);
  await other
    .getByText(/No images|sha256/)
    .first()
    .waitFor();
  assert.equal(await other.getByText('acme-secret').count(), 0);
  // Nor by its address: the API answers 404, the page says not found.
  await other.goto(`${farm.url}/certification/images/${secret}`);
  await other.getByRole('alert').filter({ hasText: 'Not found' }).first().waitFor();
  assert.equal(await other.getByText('acme-secret').count(), 0);
});

test('certification of a target and of an image: every clause, judged or not covered', TEST, async () => {
  await page.goto(`${farm.url}/certification`);
  await page.getByRole('link', { name: 'static', exact: true }).click();
  await page.waitForURL(/\/certification\/targets\/static$/);
  const target = page.getByRole('table', { name: 'certification' });
  await target.waitFor();
  assert.match((await page.getByRole('heading', { level: 1 }).textContent()) ?? '', /target static/);
  const summary = (await page.getByTestId('certification-summary').textContent()) ?? '';
  const total = Number(/^(\d+) clauses/.exec(summary)?.[1]);
  assert.equal(await target.getByRole('row').count(), total + 1);
  assert.ok(total > 7, summary);
  // The static suite judged IMG-GPT here (the latest run: distro 2's FAIL); live-only clauses are not.
  const gpt = target.getByRole('row').filter({ hasText: 'IMG-GPT' });
  assert.equal(await gpt.getByLabel('FAIL').textContent(), 'F');
  // Judged on which image: named once the page has the caller's images.
  await gpt.getByRole('link', { name: 'distro 2' }).waitFor();
  assert.ok((await target.getByLabel('NOT COVERED').count()) > 0);

  await page.goto(`${farm.url}/certification`);
  await page.getByRole('link', { name: 'gpt-crc', exact: true }).click();
  const image = page.getByRole('table', { name: 'certification' });
  await image.waitFor();
  assert.match((await page.getByRole('heading', { level: 1 }).textContent()) ?? '', /image gpt-crc/);
  const failed = image.getByRole('row').filter({ hasText: 'IMG-GPT' });
  assert.equal(await failed.getByLabel('FAIL').textContent(), 'F');
  assert.ok(
    ((await failed.textContent()) ?? '').toLowerCase().includes(BROKEN.mentions['IMG-GPT'].toLowerCase()),
  );
  assert.match(
    (await page.getByTestId('certification-summary').textContent()) ?? '',
    /MUST clauses failed: IMG-GPT/,
  );
  // Its evidence leads to the run that judged it.
  await failed.getByRole('link', { name: 'static' }).waitFor();
  await failed.getByRole('link', { name: /^run / }).click();
  await page.waitForURL(/\/runs\//);
  await page
    .getByRole('table', { name: 'verdicts' })
    .getByRole('row')
    .filter({ hasText: 'IMG-GPT' })
    .waitFor();
});

test('an admin makes and revokes a token on the tokens page; its holder logs in and out', TEST, async () => {
  await page.goto(`${farm.url}/tokens`);
  const form = page.getByRole('form', { name: 'new token' });
  await form.getByLabel('Name').fill('reader');
  await form.getByLabel('Role').selectOption('viewer');
  // Only vendor tokens have a tenant.
  assert.equal(await form.getByLabel('Tenant (vendors)').isDisabled(), true);
  await form.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.getByTestId('new-token').textContent()) ?? '';
  assert.match(secret, /^vmf_[A-Za-z0-9_-]{43}$/);
  const tokens = page.getByRole('table', { name: 'tokens' });
  const row = tokens.getByRole('row').filter({ hasText: 'reader' });
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /viewer/);
  // The list never shows a secret.
  assert.equal(await tokens.getByText(/vmf_/).count(), 0);

  const reader = await (await browser.newContext()).newPage();
  await reader.goto(`${farm.url}/login`);
  await reader.getByLabel('API token').fill(secret);
  await reader.getByRole('button', { name: 'Log in' }).click();
  await reader.waitForURL(/\/matrices$/);
  assert.equal(await reader.getByTestId('me').textContent(), 'reader (viewer)');
  await reader.getByRole('table', { name: 'matrices' }).waitFor();
  // Token administration is an admin's: no link for a viewer.
  assert.equal(await reader.getByRole('link', { name: 'Tokens' }).count(), 0);
  await reader.getByRole('button', { name: 'Log out' }).click();
  await reader.waitForURL(/\/login$/);
  // The cookie is gone: the dashboard sends a logged-out browser back to the login page.
  await reader.goto(`${farm.url}/schedules`);
  await reader.waitForURL(/\/login\?next=%2Fschedules$/);

  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Revoke' }).waitFor({ state: 'detached' });
  assert.match((await row.getByRole('cell').nth(5).textContent()) ?? '', /^\d{4}-/);
  await reader.getByLabel('API token').fill(secret);
  await reader.getByRole('button', { name: 'Log in' }).click();
  await reader.getByRole('alert').filter({ hasText: 'invalid or revoked token' }).waitFor();
  assert.match(reader.url(), /\/login/);
});
