import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { keys, parseJson, type Redis } from '@visp/bus';
import { SessionIdSchema } from '@visp/contracts';

/**
 * Each session on a host of its own, `<sid>.<SESSIONS_HOST>` (JupyterHub's `subdomain_host`): another origin than
 * the gateway's, so a session's scripts cannot call the API with the viewer's cookie or touch the gateway's
 * cookies. This file holds the pure parts (which host, which path, where to go next) and the one-time codes that
 * carry a login from the gateway's host to a session's.
 */

/** Where a session host takes a one-time code and sets its own cookie. Below `/_visp`, which no app serves. */
export const ENTRY_PATH = '/_visp/auth';

/** A session id as the first label of a host: exactly one label of 12 base32 characters. */
const SID_LABEL = /^[a-z2-7]{12}$/;

/** The host without its port, lowercased (DNS names are case-insensitive; a browser sends them lowercased). */
export const hostName = (host: string | undefined) => (host ?? '').replace(/:\d*$/, '').toLowerCase();

/** The `:port` of a Host header, or '' (behind an edge on 443 there is none). */
export const hostPort = (host: string | undefined) => /:\d+$/.exec(host ?? '')?.[0] ?? '';

/** The session whose own host `host` is (`<sid>.<sessionsHost>`, any port), or undefined. */
export function sessionOfHost(host: string | undefined, sessionsHost: string | undefined): string | undefined {
  if (!sessionsHost) return undefined;
  const name = hostName(host);
  const suffix = `.${sessionsHost}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  return SID_LABEL.test(label) ? label : undefined;
}

/** What a request to a session's own host asks for. */
export type SessionHostRequest = { kind: 'entry'; code: string; next: string } | { kind: 'app'; sessionUrl: string };

/**
 * On a session's host every path is the session's: `/s/<sid>` is prefixed unless the path has it (Jupyter,
 * started with base_url `/s/<sid>/`, links there). `ENTRY_PATH` is the gateway's. Undefined for a URL that is
 * not a path (an absolute form) or an entry without a code.
 */
export function readSessionHostRequest(rawUrl: string, sid: string): SessionHostRequest | undefined {
  if (!rawUrl.startsWith('/')) return undefined;
  const queryAt = rawUrl.indexOf('?');
  const rawPath = (queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt)).replace(/^\/+/, '/');
  const query = queryAt < 0 ? '' : rawUrl.slice(queryAt);
  if (rawPath === ENTRY_PATH) {
    const params = new URLSearchParams(query);
    const code = params.get('code');
    return code ? { kind: 'entry', code, next: safeNext(params.get('next'), sid) } : undefined;
  }
  const prefix = `/s/${sid}`;
  const sessionPath = rawPath === prefix || rawPath.startsWith(`${prefix}/`) ? rawPath : `${prefix}${rawPath}`;
  return { kind: 'app', sessionUrl: `${sessionPath}${query}` };
}

/** Printable ASCII but space and backslash: what a path, percent-encoded, is made of. */
const VISIBLE_ASCII = /^[!-[\]-~]*$/;

/**
 * Where the entry may send the browser once its cookie is set: a path on the same host, never `//other.host`,
 * `/\other.host` (both leave it in browsers), a scheme, or anything with control characters; else the session's
 * start.
 */
export function safeNext(next: string | null | undefined, sid: string): string {
  const start = `/s/${sid}/`;
  if (!next || next.length > 4096 || !next.startsWith('/') || next.startsWith('//') || !VISIBLE_ASCII.test(next)) return start;
  return next;
}

/** Whether a request is a browser's navigation (or from no browser at all), not a script's fetch or a subresource. */
export const isNavigation = (headers: { 'sec-fetch-mode'?: string | string[] }) => {
  const mode = headers['sec-fetch-mode'];
  return mode === undefined || mode === 'navigate';
};

/**
 * Whether a browser says the request was made by a page of another origin (`same-site` included: a session's
 * neighbours `<sid>.<SESSIONS_HOST>` are the same site). Requests from no browser carry no `Sec-Fetch-Site`.
 */
export const fromAnotherOrigin = (headers: { 'sec-fetch-site'?: string | string[] }) => {
  const site = headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
};

const EntrySchema = z.object({ sid: SessionIdSchema, login: z.string().min(1) });

/**
 * One-time codes for the redirect from the gateway's host, where the login cookie is, to a session's host, where
 * it is not: minted for one session and one login, read once (GETDEL), gone after `ttlSeconds`. Only the code
 * travels in the URL; what it stands for stays in Redis.
 */
export class SessionEntryCodes {
  constructor(
    private readonly redis: Pick<Redis, 'set' | 'getdel'>,
    private readonly ttlSeconds = 60,
  ) {}

  async mint(sid: string, login: string): Promise<string> {
    const code = randomBytes(24).toString('base64url');
    await this.redis.set(keys.sessionEntry(code), JSON.stringify({ sid, login }), 'EX', this.ttlSeconds);
    return code;
  }

  /** The login a code was minted for, once, and only on the host of the session it was minted for. */
  async redeem(code: string, sid: string): Promise<string | undefined> {
    // Codes are base64url: anything else is not one, and needs no round trip.
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(code)) return undefined;
    const entry = parseJson(EntrySchema, await this.redis.getdel(keys.sessionEntry(code)));
    return entry && entry.sid === sid ? entry.login : undefined;
  }
}
