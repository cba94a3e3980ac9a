import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import type { Logger } from '@visp/config';

/** Everything the page loads comes from here; it may be framed by nobody. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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
export function webPageRoutes(app: Express, logger: Logger, dir = path.join(__dirname, 'web')): void {
  for (const [route, [file, type]] of Object.entries(FILES)) {
    let content: Buffer;
    try {
      content = readFileSync(path.join(dir, file));
    } catch {
      logger.warn({ file: path.join(dir, file) }, 'start page file missing: run `npm run build`');
      continue;
    }
    app.get(route, (_req, res) => {
      res.set({
        'content-type': type,
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-frame-options': 'DENY',
        'referrer-policy': 'same-origin',
        'cache-control': 'no-cache',
      });
      res.send(content);
    });
  }
}
