import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Debian's chromium (apt-get install chromium), driven by playwright-core: no downloaded browsers. */
export const CHROMIUM = process.env.VMFARM_CHROMIUM || '/usr/bin/chromium';

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set VMFARM_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a container: no sandbox, no GPU, and /dev/shm is often too small.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** A browser context already logged in: the session cookie POST /api/session would set. */
export async function loggedIn(browser: Browser, url: string, token: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addCookies([
    { name: 'vmfarm_session', value: token, url, httpOnly: true, sameSite: 'Strict' },
  ]);
  return context;
}
