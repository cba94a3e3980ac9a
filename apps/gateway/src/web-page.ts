import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import type { Logger } from '@visp/config';
import type { PageTracker } from './analytics/page-tracker';

/**
 * A URL as a CSP source expression. Its path (`URL` has percent-encoded spaces and quotes already) matches exactly
 * that file, since it does not end in `/`; `;` and `,` would end the directive or the policy, so they are
 * percent-encoded too (a CSP path is percent-decoded before it is compared).
 */
const cspSource = (url: string) => url.replace(/[;,]/g, (c) => encodeURIComponent(c));

/**
 * Everything the page loads comes from here; it may be framed by nobody. With Matomo configured, exactly the two
 * files its tracker uses, not its whole origin (where other apps or endpoints may serve scripts): `matomo.js` as a
 * script, `matomo.php` for page views (beacon, XHR or image).
 */
export function contentSecurityPolicy(tracker?: Pick<PageTracker, 'scriptUrl' | 'trackerUrl'>): string {
  const [script, send] = tracker ? [` ${cspSource(tracker.scriptUrl)}`, ` ${cspSource(tracker.trackerUrl)}`] : ['', ''];
  return [
    "default-src 'none'",
    `script-src 'self'${script}`,
    "style-src 'self'",
    `connect-src 'self'${send}`,
    `img-src 'self' data:${send}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Matomo's settings script, put into the page as it is served, and only when Matomo is configured. */
const TRACKER_TAG = '<script src="/analytics.js" defer></script>';

/** `html` with the tracker's tag at the end of its head. */
export function withTrackerTag(html: string): string {
  const end = html.indexOf('</head>');
  return end < 0 ? html : `${html.slice(0, end)}  ${TRACKER_TAG}\n${html.slice(end)}`;
}

const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.js.map': ['app.js.map', 'application/json'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
} as const;

/**
 * The start page, built by tools/build.mjs into `web/` beside the gateway's bundle. Read once at start; small
 * enough to keep in memory. Missing files (a gateway run from source without a build) are reported, not fatal.
 */
export function webPageRoutes(app: Express, logger: Logger, options: { dir?: string; tracker?: PageTracker } = {}): void {
  const { dir = path.join(__dirname, 'web'), tracker } = options;
  const policy = contentSecurityPolicy(tracker);
  for (const [route, [file, type]] of Object.entries(FILES)) {
    let content: Buffer;
    try {
      content = readFileSync(path.join(dir, file));
    } catch {
      logger.warn({ file: path.join(dir, file) }, 'start page file missing: run `npm run build`');
      continue;
    }
    if (tracker && file === 'index.html') content = Buffer.from(withTrackerTag(content.toString('utf8')));
    app.get(route, (_req, res) => {
      res.set({
        'content-type': type,
        'content-security-policy': policy,
        'x-frame-options': 'DENY',
        'referrer-policy': 'same-origin',
        'cache-control': 'no-cache',
      });
      res.send(content);
    });
  }
  if (tracker) {
    app.get('/analytics.js', (_req, res) => {
      res.set({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
      res.send(tracker.script);
    });
  }
}
