// Debian's Chromium driven by playwright-core, for the browser tests.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// The flags this machine needs: no sandbox as root, and no background traffic to a network that is closed.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });

/** Script errors and console errors (every Content-Security-Policy violation is one); failed loads are kept apart. */
export function problems(page: Page): { errors: string[]; failedLoads: string[] } {
  const found = { errors: [] as string[], failedLoads: [] as string[] };
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) found.errors.push(message.text());
  });
  page.on('pageerror', (err) => found.errors.push(err.message));
  page.on('response', (res) => {
    if (res.status() >= 400) found.failedLoads.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  return found;
}

/** Signs in on the start page with the development key. */
export async function signInOnPage(page: Page, username: string, key: string): Promise<void> {
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Login key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#username', { hasText: username }).waitFor();
}

/**
 * Opens a ready Jupyter session from the start page's Open link, in its own tab, and waits for Jupyter's file
 * list, drawn by its scripts from its API through the proxy. When the list does not come, the error says which
 * of the page's requests were still unanswered or failed, and a screenshot is saved.
 */
export async function openJupyterFromStartPage(context: BrowserContext, page: Page, screenshot: string): Promise<Page> {
  const pending = new Map<string, number>();
  const failed: string[] = [];
  const name = (url: string) => new URL(url).pathname;
  context.on('request', (req) => pending.set(req.url(), Date.now()));
  context.on('requestfinished', (req) => pending.delete(req.url()));
  context.on('requestfailed', (req) => (pending.delete(req.url()), failed.push(`${name(req.url())}: ${req.failure()?.errorText ?? 'failed'}`)));
  context.on('response', (res) => void (res.status() >= 400 && failed.push(`${name(res.url())}: ${res.status()}`)));
  const [sessionPage] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: 'Open jupyter session' }).click()]);
  const errors: string[] = [];
  sessionPage.on('pageerror', (err) => errors.push(err.message));
  sessionPage.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
  await sessionPage.waitForLoadState('load');
  try {
    await sessionPage.getByText('Select items to perform actions on them.').waitFor({ timeout: 60_000 });
  } catch (err) {
    await sessionPage.screenshot({ path: screenshot }).catch(() => undefined);
    const waiting = [...pending].map(([url, since]) => `${name(url)} (${Math.round((Date.now() - since) / 1000)} s)`);
    throw new Error(`Jupyter's file list never showed: unanswered ${JSON.stringify(waiting)}, failed ${JSON.stringify(failed)}, script errors ${JSON.stringify(errors)}`, { cause: err });
  }
  await sessionPage.screenshot({ path: screenshot });
  return sessionPage;
}

