import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launch, loggedIn } from './browser';
import { startFarm, type Farm } from './farm';

/** A farm (`vmfarm serve`) and a browser with a page logged in as the farm's admin. */
export interface FarmPage {
  farm: Farm;
  browser: Browser;
  page: Page;
}

/** Starts both; what started is stopped again if a later step fails. */
export async function openFarmPage(dataDir: string, options: { agents: number }): Promise<FarmPage> {
  const farm = await startFarm(dataDir, options);
  try {
    const browser = await launch();
    try {
      const page = await (await loggedIn(browser, farm.url, farm.adminToken)).newPage();
      return { farm, browser, page };
    } catch (err) {
      await browser.close();
      throw err;
    }
  } catch (err) {
    await farm.stop();
    throw err;
  }
}

/** Closes the browser and stops the farm (those of them that started), then removes `dir`. */
export async function closeFarmPage(open: Partial<FarmPage>, dir: string): Promise<void> {
  await open.browser?.close();
  await open.farm?.stop();
  rmSync(dir, { recursive: true, force: true });
}
