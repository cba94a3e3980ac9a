import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { memoryLogger } from '@visp/testing';
import { pageTracker } from './analytics/page-tracker';
import { contentSecurityPolicy, webPageRoutes, withTrackerTag } from './web-page';

const directives = (policy: string) => Object.fromEntries(policy.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));

describe('contentSecurityPolicy', () => {
  it('allows the page itself only, without Matomo', () => {
    expect(directives(contentSecurityPolicy())).toEqual({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'connect-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'base-uri': ["'none'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
    });
  });

  it("adds exactly Matomo's matomo.js to the script sources and matomo.php to the connect and image sources, not its origin", () => {
    const tracker = pageTracker({ MATOMO_URL: 'https://stats.example.org/matomo', MATOMO_SITE_ID: 2, MATOMO_COOKIES: false });
    const withMatomo = directives(contentSecurityPolicy(tracker));
    const without = directives(contentSecurityPolicy());
    const added: Record<string, string> = {
      'script-src': 'https://stats.example.org/matomo/matomo.js',
      'connect-src': 'https://stats.example.org/matomo/matomo.php',
      'img-src': 'https://stats.example.org/matomo/matomo.php',
    };
    expect(Object.keys(withMatomo)).toEqual(Object.keys(without));
    for (const [name, sources] of Object.entries(withMatomo)) expect(sources).toEqual(added[name] ? [...without[name]!, added[name]] : without[name]);
  });

  it('keeps the policy whole whatever the URLs hold: ; and , are percent-encoded (CSP decodes paths before matching)', () => {
    const policy = contentSecurityPolicy({ scriptUrl: 'https://stats.example.org/a;b,c/matomo.js', trackerUrl: 'https://stats.example.org/a;b,c/matomo.php' });
    expect(directives(policy)['script-src']).toEqual(["'self'", 'https://stats.example.org/a%3Bb%2Cc/matomo.js']);
    expect(policy.split('; ')).toHaveLength(8);
    expect(policy).not.toContain(',');
  });
});

describe('withTrackerTag', () => {
  it('loads /analytics.js at the end of the head, deferred', () => {
    expect(withTrackerTag('<html><head>\n  <title>x</title>\n</head><body></body></html>')).toBe('<html><head>\n  <title>x</title>\n  <script src="/analytics.js" defer></script>\n</head><body></body></html>');
  });
});

describe('webPageRoutes', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-web-page-'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><html><head><script type="module" src="/app.js"></script></head><body></body></html>');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function serve(tracker?: ReturnType<typeof pageTracker>) {
    const app = express();
    webPageRoutes(app, memoryLogger().logger, { dir, tracker });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { get: (p: string) => fetch(`${base}${p}`), close: () => new Promise((resolve) => server.close(resolve)) };
  }

  it('serves the page as it is, and no /analytics.js, without Matomo', async () => {
    const page = await serve();
    const res = await page.get('/');
    expect(res.headers.get('content-security-policy')).toBe(contentSecurityPolicy());
    expect(await res.text()).not.toContain('analytics.js');
    expect((await page.get('/analytics.js')).status).toBe(404);
    await page.close();
  });

  it("with Matomo: the tag in the page, Matomo's two files in its CSP, and the settings script", async () => {
    const tracker = pageTracker({ MATOMO_URL: 'https://stats.example.org', MATOMO_SITE_ID: 2, MATOMO_COOKIES: false });
    const page = await serve(tracker);
    const res = await page.get('/');
    const policy = res.headers.get('content-security-policy') ?? '';
    expect(policy).toBe(contentSecurityPolicy(tracker));
    expect(directives(policy)['script-src']).toEqual(["'self'", 'https://stats.example.org/matomo.js']);
    expect(directives(policy)['connect-src']).toEqual(["'self'", 'https://stats.example.org/matomo.php']);
    expect(await res.text()).toContain('<script src="/analytics.js" defer></script>\n</head>');
    const script = await page.get('/analytics.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(tracker.script);
    await page.close();
  });
});
