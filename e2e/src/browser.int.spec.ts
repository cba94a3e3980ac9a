// The start page in a real headless Chromium (Debian's, driven by playwright-core): sign in with the dev key,
// launch Jupyter, watch the progress bar reach ready, open the session through the proxy, see the admin view;
// upload a recording, watch it complete and download its transcript; lose the webclient socket to a gateway
// restart and launch again without a reload.
// Screenshots go to .visp/artifacts/ for people to look at.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { PROGRESS_STEPS } from '@visp/contracts';
import { librivoxClips } from '@visp/testing';
import { launchChromium, openJupyterFromStartPage, problems, signInOnPage } from './chromium';
import { TEST_SECRETS } from './launch';
import { useGatewayStack } from './gateway-stack';

const ARTIFACTS = path.resolve(__dirname, '../../.visp/artifacts');
const stack = useGatewayStack({ sessionManager: 18320, gateway: 18380 }, 'browser', { ADMIN_USERS: 'ada' });

let browser: Browser;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium(stack.url);
});
afterAll(async () => {
  await browser?.close();
});

it('signs in, launches Jupyter with a progress bar that reaches ready, opens it through the proxy, and stops it', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const { errors, failedLoads } = problems(page);
  await page.goto(stack.url);

  await signInOnPage(page, 'ada', TEST_SECRETS.TEST_USER_LOGIN_KEY);

  // Administrators see the capacity and everyone's sessions.
  await page.getByRole('heading', { name: 'All sessions' }).waitFor();
  await page.getByText(/slots in use/).waitFor();

  await page.getByRole('button', { name: 'Launch jupyter' }).click();
  const bar = page.locator('#progress-bar');
  await page.getByText('jupyter is ready').waitFor({ timeout: 90_000 });
  expect(await bar.evaluate((el) => [(el as unknown as { value: number }).value, (el as unknown as { max: number }).max])).toEqual([PROGRESS_STEPS.length - 1, PROGRESS_STEPS.length - 1]);
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser-ready.png'), fullPage: true });

  const sessionPage = await openJupyterFromStartPage(context, page, path.join(ARTIFACTS, 'browser-session.png'));
  expect(sessionPage.url()).toMatch(/\/s\/[a-z2-7]{12}\/lab/);
  expect(await sessionPage.title()).toMatch(/Jupyter|Home/);
  await sessionPage.close();

  await page.getByRole('button', { name: 'Stop jupyter session', exact: true }).click();
  await page.getByText('No sessions yet.').waitFor({ timeout: 30_000 });
  expect(errors).toEqual([]);
  expect(failedLoads).toEqual(['401 /api/v1/me']); // the page asking whether anyone is signed in
  await context.close();
}, 150_000);

it('uploads a recording, shows its progress to completion, and downloads the transcript as SRT', async () => {
  await stack.startWorker(18341);
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const { errors } = problems(page);
  await page.goto(stack.url);
  await signInOnPage(page, 'bea', TEST_SECRETS.TEST_USER_LOGIN_KEY);
  await page.getByText('No transcriptions yet.').waitFor();
  expect(await page.locator('#launch-progress').isVisible()).toBe(false); // until a launch starts

  const clip = librivoxClips()[0]!;
  await page.getByLabel('Recording').setInputFiles(clip.wav);
  await page.getByLabel('Language').fill('English');
  await page.getByRole('button', { name: 'Transcribe' }).click();
  // Pushed state events redraw the row: queued or running, then completed with its downloads.
  const srt = page.getByRole('link', { name: `Download ${path.basename(clip.wav)} as SRT` });
  await srt.waitFor({ timeout: 90_000 });
  await page.getByText('A transcript is ready to download.').waitFor();
  expect(await page.locator('#jobs progress').evaluate((el) => (el as unknown as { value: number }).value)).toBe(1);
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser-transcription.png'), fullPage: true });

  const [download] = await Promise.all([page.waitForEvent('download'), srt.click()]);
  const text = readFileSync(await download.path(), 'utf8');
  expect(text).toMatch(/^1\r?\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\r?\n\S/);
  expect(download.suggestedFilename()).toMatch(/\.srt$/);
  expect(errors).toEqual([]);
  await context.close();
}, 150_000);

it('says it is reconnecting while the gateway is down, and launches again once it is back, without a reload', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const { errors } = problems(page);
  await page.goto(stack.url);
  await signInOnPage(page, 'cyd', TEST_SECRETS.TEST_USER_LOGIN_KEY);
  const launch = page.getByRole('button', { name: 'Launch echo' });
  const reconnecting = page.getByText('Reconnecting to the server…');
  await page.locator('#launchers button:enabled').first().waitFor(); // the socket is open
  const loads: string[] = [];
  page.on('load', () => loads.push(page.url()));

  await stack.restartGateway(async () => {
    await reconnecting.waitFor();
    expect(await launch.isDisabled()).toBe(true); // commands need the socket
  });
  await reconnecting.waitFor({ state: 'hidden', timeout: 30_000 });
  await launch.click(); // waits for the button to be enabled again
  await page.getByText('echo is ready').waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Stop echo session', exact: true }).click();
  await page.getByText('No sessions yet.').waitFor({ timeout: 30_000 });

  expect(loads).toEqual([]); // the same page all along
  // Chromium reports each refused reconnection on the console; nothing else may be there.
  expect(errors.filter((e) => !/^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/ws' failed/.test(e))).toEqual([]);
  await context.close();
}, 120_000);
