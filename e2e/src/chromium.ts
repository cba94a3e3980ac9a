// Debian's Chromium driven by playwright-core, for the browser tests.
import { chromium, type Browser, type Page } from 'playwright-core';

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
