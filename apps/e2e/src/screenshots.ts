import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launch, loggedIn } from './browser';
import { corpus, REPO_ROOT, startFarm } from './farm';

/**
 * `npm run screenshots`: a fresh farm, a matrix of corpus images, and docs/screenshots/{matrix,run,
 * certification}.png taken from the dashboard as a user sees it.
 */

const OUT = join(REPO_ROOT, 'docs', 'screenshots');
/** Corpus images that show every verdict the static suite gives, under the names a vendor might use. */
const IMAGES: [file: string, name: string, version: string][] = [
  ['good-aa64.raw', 'debian-arm64', '12.5'],
  ['good-aa32.raw', 'debian-armhf', '12.5'],
  ['gpt-primary-header-crc.raw', 'edge-os', '0.9'],
  ['fat16-esp.raw', 'tiny-linux', '3.1'],
  ['path-debian-only.raw', 'grub-only', '1.0'],
  ['fw-qemu-efi-fd.raw', 'firmware-bundled', '2.0'],
];

async function shot(page: Page, name: string) {
  // An error box means the page could not show what it should: no screenshot of that.
  const alert = page.getByRole('alert');
  if ((await alert.count()) > 0)
    throw new Error(`${name}: the page shows an error: ${await alert.first().textContent()}`);
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  process.stdout.write(`wrote ${join(OUT, `${name}.png`)}\n`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-screenshots-'));
  const farm = await startFarm(join(dir, 'data'), { agents: 1 });
  const browser = await launch();
  try {
    const c = corpus();
    const shas: string[] = [];
    for (const [file, name, version] of IMAGES)
      shas.push(await farm.api.upload(c.image(file).path, { name, version, tags: ['nightly'] }));
    const matrix = await farm.api.submit(shas, ['static'], ['static']);
    await farm.api.finished(matrix.id, 300_000);

    const page = await (await loggedIn(browser, farm.url, farm.adminToken)).newPage();
    mkdirSync(OUT, { recursive: true });
    await page.goto(`${farm.url}/matrices/${matrix.id}`);
    await page.getByRole('table', { name: 'matrix grid' }).waitFor();
    await shot(page, 'matrix');

    const failing = page.getByRole('row').filter({ hasText: 'edge-os' }).getByLabel('static: FAIL');
    await failing.click();
    await page.getByRole('table', { name: 'verdicts' }).waitFor();
    await shot(page, 'run');

    await page.goto(
      `${farm.url}/certification/images/${shas[IMAGES.findIndex(([f]) => f === 'fat16-esp.raw')]}`,
    );
    await page.getByRole('table', { name: 'certification' }).or(page.getByRole('alert')).first().waitFor();
    await shot(page, 'certification');
  } finally {
    await browser.close();
    await farm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`vmfarm screenshots: ${err.message}\n`);
  process.exit(1);
});
