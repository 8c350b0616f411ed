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

/**
 * A browser context already logged in: a session opened with POST /api/session (the cookie carries
 * the session id it answers with, never the token).
 */
export async function loggedIn(browser: Browser, url: string, token: string): Promise<BrowserContext> {
  const res = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const session = /vmfarm_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  if (res.status !== 204 || !session)
    throw new Error(`cannot log in at ${url}: ${res.status} ${await res.text()}`);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addCookies([
    { name: 'vmfarm_session', value: session, url, httpOnly: true, sameSite: 'Strict' },
  ]);
  return context;
}
