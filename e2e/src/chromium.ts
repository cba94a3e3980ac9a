// Debian's Chromium driven by playwright-core, for the browser tests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// The flags this machine needs: no sandbox as root, and no background traffic to a network that is closed.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Chromium in this host's network namespace: only to show what `launchChromium` protects the tests from. */
export const launchChromiumOnHostNetwork = (): Promise<Browser> => chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });

/** Each socket's data goes to the other; either one ending or failing ends both. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

// Runs in Chromium's namespace: serves 127.0.0.1:<port> there by connecting to the unix socket outside.
const INNER_RELAY = `const net = require('node:net');
const [port, socket] = process.argv.slice(1);
net.createServer((a) => { const b = net.connect(socket); a.pipe(b).pipe(a); a.on('error', () => b.destroy()); b.on('error', () => a.destroy()); })
  .listen(Number(port), '127.0.0.1', () => console.log('listening'));`;

/**
 * Chromium in a network namespace of its own, where `url`'s loopback address and port lead, through a unix socket,
 * to the same port on this host's loopback: the only place the browser tests go. `hosts` are names Chromium
 * takes for that address (a site and its app host, `visp.test` and `app.visp.test`).
 *
 * Why: when the host gains or loses a link or an address, Chromium fails every request still waiting for a
 * connection with net::ERR_NETWORK_CHANGED, and Podman adds links whenever a test running beside this one starts
 * a container. Jupyter's page asks for dozens of files at once, six at a time, so it lost some (seen in CI).
 */
export async function launchChromium(url: string, options: { hosts?: string[] } = {}): Promise<Browser> {
  const { hostname, port } = new URL(url);
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-chromium-'));
  const socket = path.join(dir, 'loopback.sock');
  const outer = createServer((a) => splice(a, connect(Number(port), hostname))).listen(socket);
  // setpriv: the relay dies with this process; unshare and sh exec in place, so its pid names the namespace.
  const relay = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', process.execPath, '-e', INNER_RELAY, port, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cleanUp = () => {
    relay.kill('SIGKILL');
    outer.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [exit] = await Promise.race([once(relay.stdout, 'data').then(() => [undefined]), once(relay, 'exit')]);
    if (exit !== undefined) throw new Error(`the loopback relay for Chromium's network namespace exited (${String(exit)})`);
    const executablePath = path.join(dir, 'chromium');
    writeFileSync(executablePath, `#!/bin/sh\nexec nsenter --net=/proc/${relay.pid}/ns/net -- /usr/bin/chromium "$@"\n`, { mode: 0o755 });
    const rules = (options.hosts ?? []).map((host) => `MAP ${host} ${hostname}`).join(',');
    const browser = await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...(rules ? [`--host-resolver-rules=${rules}`] : [])] });
    browser.once('disconnected', cleanUp);
    return browser;
  } catch (err) {
    cleanUp();
    throw err;
  }
}

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

/** JupyterLab's launcher card for a new notebook with `kernel` (its display name). */
export const notebookCard = (page: Page, kernel: string) => page.locator(`.jp-LauncherCard[data-category="Notebook"][title="${kernel}"]`);

/**
 * Opens a ready Jupyter session with `open` (which returns its page) and waits for JupyterLab's launcher to offer
 * a Python notebook: drawn by its scripts from the kernel specs they fetched through the proxy. When it does not
 * come, the error says which of the page's requests were still unanswered or failed, and a screenshot is saved.
 */
export async function openJupyterLab(context: BrowserContext, screenshot: string, open: () => Promise<Page>): Promise<Page> {
  const pending = new Map<string, number>();
  const failed: string[] = [];
  const name = (url: string) => new URL(url).pathname;
  context.on('request', (req) => pending.set(req.url(), Date.now()));
  context.on('requestfinished', (req) => pending.delete(req.url()));
  context.on('requestfailed', (req) => (pending.delete(req.url()), failed.push(`${name(req.url())}: ${req.failure()?.errorText ?? 'failed'}`)));
  context.on('response', (res) => void (res.status() >= 400 && failed.push(`${name(res.url())}: ${res.status()}`)));
  const sessionPage = await open();
  const errors: string[] = [];
  sessionPage.on('pageerror', (err) => errors.push(err.message));
  sessionPage.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
  await sessionPage.waitForLoadState('load');
  try {
    await notebookCard(sessionPage, 'Python 3 (ipykernel)').waitFor({ timeout: 60_000 });
  } catch (err) {
    await sessionPage.screenshot({ path: screenshot }).catch(() => undefined);
    const waiting = [...pending].map(([url, since]) => `${name(url)} (${Math.round((Date.now() - since) / 1000)} s)`);
    throw new Error(`JupyterLab's launcher never showed: unanswered ${JSON.stringify(waiting)}, failed ${JSON.stringify(failed)}, script errors ${JSON.stringify(errors)}`, { cause: err });
  }
  await sessionPage.screenshot({ path: screenshot });
  return sessionPage;
}

/** Opens a ready Jupyter session from the start page's Open link, in its own tab (see openJupyterLab). */
export const openJupyterFromStartPage = (context: BrowserContext, page: Page, screenshot: string): Promise<Page> =>
  openJupyterLab(context, screenshot, async () => (await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: 'Open jupyter session' }).click()]))[0]);

