import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { channels, keys, onNotice, parseJson, type Redis } from '@visp/bus';
import { OwnerSchema } from '@visp/contracts';
import type { PeerList } from '@visp/service-kit';
import type { Store } from '@visp/store';
import { NoticedCache } from '../noticed-cache';
import { HeldConnections, type EndReason } from './held-connections';
import { appCookieName, cookieName, ENTRY_COOKIE, LOGIN_COOKIE, onlyCookie, SESSION_COOKIE, sign, unsign } from './cookies';

/** Who is asking, and how they proved it. */
export const PrincipalSchema = z.object({
  username: OwnerSchema,
  admin: z.boolean(),
  via: z.enum(['login', 'token']),
});
/** A login as Redis keeps it. */
const StoredLoginSchema = PrincipalSchema.extend({ expiresAt: z.number().int().optional() });

export type Principal = z.infer<typeof PrincipalSchema> & {
  /** What the request proved itself with, `login:<id>` or `token:<id>`: what a logout or a revocation ends. */
  credential: string;
  /** When that stops working (ms since the epoch); unset: only when revoked. */
  expiresAt?: number;
};

const loginCredential = (id: string) => `login:${id}`;
const tokenCredential = (id: string) => `token:${id}`;

export interface AuthSettings {
  COOKIE_SECRET: string;
  LOGIN_TTL: number;
  ADMIN_USERS: string[];
  TRUSTED_PROXY_CIDRS: string[];
}

/** Which host a request is for, which decides the one cookie that may sign it in. */
export const GATEWAY_HOST = 'gateway';
export const APP_HOST = 'app';
export type CookieHost = typeof GATEWAY_HOST | typeof APP_HOST | { session: string };
/** What the app hosts' cookie signs before the login id: a gateway cookie's value is not one, nor the reverse. */
const APP_COOKIE_CONTEXT = 'app.';

const bearerToken = (req: IncomingMessage) => (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7).trim() : undefined);

/** A remembered login or token stops working the moment it expires, not when the cache next reads it. */
const unexpired = (principal: Readonly<Principal> | undefined) => (principal && (principal.expiresAt === undefined || principal.expiresAt > Date.now()) ? principal : undefined);

/** HTTPS as the client sees it: the socket's own TLS, or what a trusted front proxy says. */
export const isHttps = (req: IncomingMessage, trusted: PeerList) => 'encrypted' in req.socket || (trusted.includes(req) && req.headers['x-forwarded-proto'] === 'https');

/** Signs people in and recognises them again: a cookie naming a server-side login in Redis, or an API token. */
export class Authenticator {
  private readonly admins: ReadonlySet<string>;
  /** Logins by id, so that a proxied request costs no Redis round trip; a logout anywhere drops the entry. */
  private readonly logins: NoticedCache<Readonly<Principal>>;
  /** Verified API tokens by their text (misses are never kept), so that a script's requests cost no database read. */
  private readonly tokens: NoticedCache<Readonly<Principal>>;
  /** What ends each notice subscription. */
  private unsubscribers: Array<() => Promise<void>> = [];
  /** WebSockets, which outlive the check made when they opened, by the credential they opened with. */
  private readonly held = new HeldConnections();
  /** Cookie values whose signature was checked, and the login id each names: an HMAC per request is the slow part. */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly store: Store,
    private readonly settings: AuthSettings,
    /** Whether the client reached us over HTTPS, which decides the cookies' names (`__Host-` or not). */
    private readonly secure: (req: IncomingMessage) => boolean = () => false,
  ) {
    this.admins = new Set(settings.ADMIN_USERS);
    this.logins = new NoticedCache(
      async (id) => {
        const login = parseJson(StoredLoginSchema, await redis.get(keys.login(id)));
        // Admin is this gateway's ADMIN_USERS now, not what it was at sign-in: removing someone takes effect on restart.
        return login && { ...login, admin: this.isAdmin(login.username), credential: loginCredential(id) };
      },
      { maxAgeMs: 10_000, maxEntries: 100_000 },
    );
    this.tokens = new NoticedCache(
      async (text) => {
        const token = await store.tokens.verify(text);
        return token && { username: token.owner, admin: this.isAdmin(token.owner), via: 'token', credential: tokenCredential(token.id), expiresAt: token.expiresAt?.getTime() };
      },
      { maxAgeMs: 10_000, maxEntries: 100_000 },
    );
  }

  /** Listens for logouts and token revocations announced by any gateway. */
  async start(): Promise<void> {
    this.unsubscribers = [
      await onNotice(this.redis, channels.logouts(this.redis), (id) => this.forgetLogin(id)),
      await onNotice(this.redis, channels.tokenRevocations(this.redis), (id) => this.forgetToken(id)),
    ];
  }

  /**
   * Keeps a long-lived connection (a WebSocket) only as long as the credential it opened with: `end` is called
   * when that login signs out or that token is revoked, on any gateway, or when it expires. Returns the release
   * for a connection that closes first.
   */
  holdWhileValid(principal: Readonly<Principal>, end: (reason: EndReason) => void): () => void {
    return this.held.hold(principal, end);
  }

  async close(): Promise<void> {
    await Promise.all(this.unsubscribers.map((unsubscribe) => unsubscribe()));
  }

  isAdmin(username: string): boolean {
    return this.admins.has(username);
  }

  /**
   * Starts a login; returns the values of the gateway's cookie and the app hosts' for it. They differ (the app
   * hosts' is signed for them): the app hosts' cookie reaches every host of the domain, and must never open the
   * gateway's API should one of them ever see it.
   */
  async signIn(username: string): Promise<{ gateway: string; app: string }> {
    const id = randomBytes(24).toString('base64url');
    const login: z.infer<typeof StoredLoginSchema> = { username, admin: this.isAdmin(username), via: 'login', expiresAt: Date.now() + this.settings.LOGIN_TTL * 1000 };
    await this.redis.set(keys.login(id), JSON.stringify(login), 'EX', this.settings.LOGIN_TTL);
    return { gateway: sign(id, this.settings.COOKIE_SECRET), app: sign(`${APP_COOKIE_CONTEXT}${id}`, this.settings.COOKIE_SECRET) };
  }

  /** Ends the login the request's cookie names, if any. */
  async signOut(req: IncomingMessage): Promise<void> {
    const id = this.loginIdOn(req, GATEWAY_HOST);
    if (!id) return;
    await this.redis.multi().del(keys.login(id)).publish(channels.logouts(this.redis), id).exec();
    // Here at once, not when the notice comes back: the next request may already be on its way.
    this.forgetLogin(id);
  }

  /**
   * The principal of a request: a Bearer token first, then the login cookie of the host it is for (`on`);
   * undefined when neither is valid. Each host reads its own cookie only: the gateway's host the gateway's, a
   * session's host that session's (`sessionCookie`), an app host the app hosts' (APP_LOGIN_COOKIE).
   */
  async identify(req: IncomingMessage, on: CookieHost = GATEWAY_HOST): Promise<Readonly<Principal> | undefined> {
    const token = bearerToken(req);
    if (token !== undefined) return unexpired(await this.tokens.get(token));
    const id = this.loginIdOn(req, on);
    return id ? unexpired(await this.logins.get(id)) : undefined;
  }

  /**
   * What `identify` would say, when it can say so without a round trip (a login or token in memory); undefined
   * otherwise, so that the proxy's hot path waits on nothing.
   */
  recognise(req: IncomingMessage, on: CookieHost = GATEWAY_HOST): Readonly<Principal> | undefined {
    const token = bearerToken(req);
    if (token !== undefined) return unexpired(this.tokens.peek(token));
    const id = this.loginIdOn(req, on);
    return id ? unexpired(this.logins.peek(id)) : undefined;
  }

  /**
   * The value of session `sid`'s own cookie for login `loginId`: it names the login rather than copying it, so a
   * logout or the login's expiry ends it too, and it opens that session's host only.
   */
  sessionCookie(sid: string, loginId: string): string {
    return sign(`${sid}.${loginId}`, this.settings.COOKIE_SECRET);
  }

  /** The names the gateway's cookies have on this request (`__Host-`, the app hosts' `__Secure-`, under HTTPS). */
  cookieNames(req: IncomingMessage): { login: string; session: string; entry: string; app: string } {
    const secure = this.secure(req);
    return { login: cookieName(LOGIN_COOKIE, secure), session: cookieName(SESSION_COOKIE, secure), entry: cookieName(ENTRY_COOKIE, secure), app: appCookieName(secure) };
  }

  /** Revokes one of `owner`'s tokens, on every gateway at once; false when there was no such token. */
  async revokeToken(owner: string, id: string): Promise<boolean> {
    if (!(await this.store.tokens.revoke(owner, id))) return false;
    this.forgetToken(id);
    await this.redis.publish(channels.tokenRevocations(this.redis), id);
    return true;
  }

  /** A login ended (here, or on another gateway's notice): not remembered, and its WebSockets closed. */
  private forgetLogin(id: string): void {
    this.logins.drop(id);
    this.held.revoke(loginCredential(id));
  }

  /** A token revoked (here, or on another gateway's notice): not remembered, and its WebSockets closed. */
  private forgetToken(id: string): void {
    this.tokens.dropWhere((token) => token.credential === tokenCredential(id));
    this.held.revoke(tokenCredential(id));
  }

  /** The login id the cookie of host `on` names, under the one name it has on this request, sent once. */
  private loginIdOn(req: IncomingMessage, on: CookieHost): string | undefined {
    const secure = this.secure(req);
    if (on === GATEWAY_HOST) return this.verifiedValue(onlyCookie(req.headers.cookie, cookieName(LOGIN_COOKIE, secure)));
    if (on === APP_HOST) {
      const value = this.verifiedValue(onlyCookie(req.headers.cookie, appCookieName(secure)));
      return value?.startsWith(APP_COOKIE_CONTEXT) ? value.slice(APP_COOKIE_CONTEXT.length) : undefined;
    }
    // A session's own cookie: one made for another session opens nothing here.
    const value = this.verifiedValue(onlyCookie(req.headers.cookie, cookieName(SESSION_COOKIE, secure)));
    return value?.startsWith(`${on.session}.`) ? value.slice(on.session.length + 1) : undefined;
  }

  private verifiedValue(cookie: string | undefined): string | undefined {
    if (!cookie) return undefined;
    let value = this.verified.get(cookie);
    if (value) return value;
    value = unsign(cookie, this.settings.COOKIE_SECRET);
    if (!value) return undefined;
    // Only valid signatures are remembered, so nobody can fill this with junk; a revoked login is the logins cache's business.
    if (this.verified.size >= 100_000) this.verified.clear();
    this.verified.set(cookie, value);
    return value;
  }
}

/** Counts attempts per client in fixed one-minute windows; true while under `limit`. */
export async function withinRateLimit(redis: Redis, scope: string, client: string, limit: number): Promise<boolean> {
  const key = keys.rateLimit(scope, client);
  const [[, count] = [null, 0]] = (await redis.multi().incr(key).expire(key, 60, 'NX').exec()) ?? [];
  return Number(count) <= limit;
}
