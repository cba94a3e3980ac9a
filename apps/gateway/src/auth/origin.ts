import type { IncomingMessage } from 'node:http';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery guard for cookie-authenticated requests: a state-changing request or a WebSocket
 * upgrade must come from the gateway's own origin (the Host it was asked under) or one explicitly allowed.
 * Browsers always send Origin on such requests; a request without one is not from a browser page and is
 * allowed only when it carries no cookie to abuse.
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[], options: { upgrade?: boolean } = {}): boolean {
  if (!options.upgrade && SAFE_METHODS.has(req.method ?? 'GET')) return true;
  const origin = req.headers.origin;
  if (!origin) return !req.headers.cookie;
  if (allowed.includes(origin)) return true;
  const host = req.headers.host;
  return !!host && (origin === `http://${host}` || origin === `https://${host}`);
}
