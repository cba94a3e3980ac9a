// The browser tests' Chromium keeps loading a page while this host's links change, as they do whenever Podman
// starts a container for a test running beside it; a Chromium on the host network does not.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { waitFor } from '@visp/testing';
import { launchChromium, launchChromiumOnHostNetwork } from './chromium';

const IMAGES = 24;
const GIF = Buffer.from('R0lGODlhAQABAAAAACw=', 'base64');

/** A page of images whose answers are held back: Chromium asks for six at a time and queues the rest. */
async function pageOfHeldImages() {
  const held: http.ServerResponse[] = [];
  let released = false;
  const answer = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'image/gif' }).end(GIF);
  const server = http.createServer((req, res) => {
    if (req.url !== '/') return void (released ? answer(res) : held.push(res));
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>images</title>${Array.from({ length: IMAGES }, (_, i) => `<img src="/${i}.gif" alt="">`).join('')}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    held,
    /** Answers every image asked for, now and later. */
    release() {
      released = true;
      held.splice(0).forEach(answer);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Adds a link with an address to this host and takes it away again: what starting a container does. */
function changeHostNetwork(): void {
  const name = `vispnc${process.pid % 100_000}`;
  execFileSync('ip', ['link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`]);
  try {
    execFileSync('ip', ['address', 'add', '198.18.0.1/32', 'dev', `${name}a`]); // a benchmarking-range address
    execFileSync('ip', ['link', 'set', `${name}a`, 'up']);
  } finally {
    execFileSync('ip', ['link', 'delete', `${name}a`]);
  }
}

/** How the page's image requests that were still waiting for a connection ended, when the host network changed. */
async function failuresAcrossNetworkChange(launch: (url: string) => Promise<Browser>): Promise<string[]> {
  const site = await pageOfHeldImages();
  const browser = await launch(site.url);
  try {
    const page = await browser.newPage();
    const failures: string[] = [];
    page.on('requestfailed', (req) => failures.push(req.failure()?.errorText ?? 'failed'));
    await page.goto(site.url, { waitUntil: 'commit' });
    await waitFor('Chromium to ask for six images', () => site.held.length >= 6);
    changeHostNetwork();
    // Chromium hears of the change from netlink on another thread: give it time to fail what it would fail.
    await waitFor('a request to fail', () => failures.length > 0, 2000).catch(() => undefined);
    site.release();
    await page.waitForLoadState('load');
    return failures;
  } finally {
    await browser.close();
    await site.close();
  }
}

it('a Chromium on the host network fails the requests it has queued when a link comes up', async () => {
  const failures = await failuresAcrossNetworkChange(() => launchChromiumOnHostNetwork());
  expect(failures).toContain('net::ERR_NETWORK_CHANGED');
}, 60_000);

it("the browser tests' Chromium, in a network namespace of its own, loads every image", async () => {
  expect(await failuresAcrossNetworkChange(launchChromium)).toEqual([]);
}, 60_000);
