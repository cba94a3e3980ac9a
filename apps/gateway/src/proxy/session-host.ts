import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { keys, parseJson, type Redis } from '@visp/bus';
import { SessionIdSchema } from '@visp/contracts';

/**
 * Each session on a host of its own, `<sid>.<SESSIONS_HOST>` (JupyterHub's `subdomain_host`): another origin than
 * the gateway's, so a session's scripts cannot call the API with the viewer's cookie or touch the gateway's
 * cookies. This file holds the pure parts (which host, which path, where to go next) and the one-time codes that
 * carry a login from the gateway's host to a session's.
 */

/**
 * Where a session host takes a one-time code and sets its own cookie. Below `/_visp`, which no app serves.
 *
 * A browser without a session host's cookie is let in by a round trip through the gateway's host, bound to that
 * browser as OAuth binds a login to its `state` (JupyterHub's HubOAuth does the same):
 * 1. `<sid>.<SESSIONS_HOST>/…`: a random state goes into this host's entry cookie and into the URL of
 * 2. `<SESSIONS_HOST>/_visp/enter?sid&state&next` (ENTER_PATH): signed in there, the owner gets a one-time code
 *    minted for the session, the login and the state, and is sent to
 * 3. `<sid>.<SESSIONS_HOST>/_visp/auth?code&next`: the code counts only with the state in this browser's entry
 *    cookie, and becomes the session host's own cookie.
 * Without the state, a code minted in one browser would sign another into the minter's session (login CSRF: a
 * link from Mallory opens her notebook in Alice's browser, which Alice takes for her own).
 */
export const ENTRY_PATH = '/_visp/auth';
/** On the gateway's host: where a session host sends a browser to get a code (step 2 above). */
export const ENTER_PATH = '/_visp/enter';
/** How long a browser has for the round trip: the entry cookie's lifetime (a code lives 60 s: it is redeemed by the next redirect). */
export const ENTRY_TTL_SECONDS = 300;

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

/**
 * Whether the host is below SESSIONS_HOST but names no session (`www.<domain>`, a typo, a stale link): the edge's
 * `*.<domain>` site sends it here, and served as the gateway it would be a second gateway origin.
 */
export function strayBelowSessionsHost(host: string | undefined, sessionsHost: string | undefined): boolean {
  return !!sessionsHost && hostName(host).endsWith(`.${sessionsHost}`) && sessionOfHost(host, sessionsHost) === undefined;
}

/** A fresh state for an entry: what only the browser that started it holds, in its entry cookie. */
export const newEntryState = () => randomBytes(24).toString('base64url');

/** States and codes are base64url: anything else is not one, and needs no round trip. */
const RANDOM_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

/** A session host's request for a code, on the gateway's host: which session, the browser's state, where to go. */
export interface EnterRequest {
  sid: string;
  state: string;
  /** A path into the session, `/s/<sid>/…`. */
  next: string;
}

/** `ENTER_PATH?sid&state&next` read, or undefined when it is not one (a malformed one included). */
export function readEnterRequest(rawUrl: string): EnterRequest | undefined {
  const queryAt = rawUrl.indexOf('?');
  if ((queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt)) !== ENTER_PATH) return undefined;
  const params = new URLSearchParams(rawUrl.slice(queryAt + 1));
  const [sid, state] = [params.get('sid') ?? '', params.get('state') ?? ''];
  if (!SID_LABEL.test(sid) || !RANDOM_TOKEN.test(state)) return undefined;
  const next = safeNext(params.get('next'), sid);
  const prefix = `/s/${sid}`;
  return { sid, state, next: next === prefix || next.startsWith(`${prefix}/`) || next.startsWith(`${prefix}?`) ? next : `${prefix}/` };
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

const EntrySchema = z.object({ sid: SessionIdSchema, login: z.string().min(1), state: z.string() });

const sameState = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * One-time codes for the redirect from the gateway's host, where the login cookie is, to a session's host, where
 * it is not: minted for one session, one login and one browser's entry state, read once (GETDEL), gone after
 * `ttlSeconds`. Only the code travels in the URL; what it stands for stays in Redis.
 */
export class SessionEntryCodes {
  constructor(
    private readonly redis: Pick<Redis, 'set' | 'getdel'>,
    private readonly ttlSeconds = 60,
  ) {}

  async mint(sid: string, login: string, state: string): Promise<string> {
    const code = randomBytes(24).toString('base64url');
    await this.redis.set(keys.sessionEntry(code), JSON.stringify({ sid, login, state }), 'EX', this.ttlSeconds);
    return code;
  }

  /**
   * The login a code was minted for, once, only on the host of the session it was minted for and only in the
   * browser whose entry cookie holds the state it was minted with (`state`, undefined when it has none).
   */
  async redeem(code: string, sid: string, state: string | undefined): Promise<string | undefined> {
    if (!RANDOM_TOKEN.test(code)) return undefined;
    // Spent even when the state is wrong: a code that reached another browser is not tried twice.
    const entry = parseJson(EntrySchema, await this.redis.getdel(keys.sessionEntry(code)));
    return entry && entry.sid === sid && state !== undefined && sameState(entry.state, state) ? entry.login : undefined;
  }
}
