import { BlockList, isIPv4, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { channels, keys, onNotice, parseJson, type Redis } from '@visp/bus';
import { OwnerSchema } from '@visp/contracts';
import type { Store } from '@visp/store';
import { NoticedCache } from '../noticed-cache';
import { LOGIN_COOKIE, parseCookies, sign, unsign } from './cookies';

/** Who is asking, and how they proved it. */
export const PrincipalSchema = z.object({
  username: OwnerSchema,
  admin: z.boolean(),
  via: z.enum(['login', 'token']),
});
export type Principal = z.infer<typeof PrincipalSchema> & {
  /** The server-side login a cookie names (not stored in it): what a logout ends. */
  loginId?: string;
};

export interface AuthSettings {
  COOKIE_SECRET: string;
  LOGIN_TTL: number;
  ADMIN_USERS: string[];
  TRUSTED_PROXY_CIDRS: string[];
}

/** The peers whose identity and X-Forwarded-* headers are believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** Each connection's answer: checking parses the address, and a kept-alive connection would ask per request. */
  private readonly connections = new WeakMap<Socket, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address = '', bits] = cidr.split('/');
      const type = isIPv4(address) ? 'ipv4' : 'ipv6';
      this.list.addSubnet(address, Number(bits ?? (type === 'ipv4' ? 32 : 128)), type);
    }
  }

  /** Whether the request comes straight from one of them. */
  trusts(req: IncomingMessage): boolean {
    let trusted = this.connections.get(req.socket);
    if (trusted === undefined) {
      const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      trusted = peer !== '' && this.list.check(peer, isIPv4(peer) ? 'ipv4' : 'ipv6');
      this.connections.set(req.socket, trusted);
    }
    return trusted;
  }
}

/** A verified API token's principal, with what a later use must still check. */
type TokenPrincipal = Readonly<Principal> & { tokenId: string; expiresAt?: number };

const bearerToken = (req: IncomingMessage) => (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7).trim() : undefined);

/** A remembered token stops working the moment it expires, not when the cache next reads it. */
const unexpired = (token: TokenPrincipal | undefined) => (token && (token.expiresAt === undefined || token.expiresAt > Date.now()) ? token : undefined);

/** HTTPS as the client sees it: the socket's own TLS, or what a trusted front proxy says. */
export const isHttps = (req: IncomingMessage, trusted: TrustedProxies) => 'encrypted' in req.socket || (trusted.trusts(req) && req.headers['x-forwarded-proto'] === 'https');

/** Signs people in and recognises them again: a cookie naming a server-side login in Redis, or an API token. */
export class Authenticator {
  private readonly admins: ReadonlySet<string>;
  /** Logins by id, so that a proxied request costs no Redis round trip; a logout anywhere drops the entry. */
  private readonly logins: NoticedCache<Readonly<Principal>>;
  /** Verified API tokens by their text (misses are never kept), so that a script's requests cost no database read. */
  private readonly tokens: NoticedCache<TokenPrincipal>;
  /** What ends each notice subscription. */
  private unsubscribers: Array<() => Promise<void>> = [];
  private readonly logoutListeners: Array<(loginId: string) => void> = [];
  /** Cookie values whose signature was checked, and the login id each names: an HMAC per request is the slow part. */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly store: Store,
    private readonly settings: AuthSettings,
  ) {
    this.admins = new Set(settings.ADMIN_USERS);
    this.logins = new NoticedCache(
      async (id) => {
        const principal = parseJson(PrincipalSchema, await redis.get(keys.login(id)));
        return principal && { ...principal, loginId: id };
      },
      { maxAgeMs: 10_000, maxEntries: 100_000 },
    );
    this.tokens = new NoticedCache(
      async (text) => {
        const token = await store.tokens.verify(text);
        return token && { username: token.owner, admin: this.isAdmin(token.owner), via: 'token', tokenId: token.id, expiresAt: token.expiresAt?.getTime() };
      },
      { maxAgeMs: 10_000, maxEntries: 100_000 },
    );
  }

  /** Listens for logouts and token revocations announced by any gateway. */
  async start(): Promise<void> {
    this.unsubscribers = [
      await onNotice(this.redis, channels.logouts, (id) => {
        this.logins.drop(id);
        for (const listener of this.logoutListeners) listener(id);
      }),
      await onNotice(this.redis, channels.tokenRevocations, (id) => this.tokens.dropWhere((token) => token.tokenId === id)),
    ];
  }

  /** Hears every logout, on any gateway: long-lived connections of that login must end too. */
  onLogout(listener: (loginId: string) => void): void {
    this.logoutListeners.push(listener);
  }

  async close(): Promise<void> {
    await Promise.all(this.unsubscribers.map((unsubscribe) => unsubscribe()));
  }

  isAdmin(username: string): boolean {
    return this.admins.has(username);
  }

  /** Starts a login; returns the signed cookie value. */
  async signIn(username: string): Promise<string> {
    const id = randomBytes(24).toString('base64url');
    const principal: Principal = { username, admin: this.isAdmin(username), via: 'login' };
    await this.redis.set(keys.login(id), JSON.stringify(principal), 'EX', this.settings.LOGIN_TTL);
    return sign(id, this.settings.COOKIE_SECRET);
  }

  /** Ends the login the request's cookie names, if any. */
  async signOut(req: IncomingMessage): Promise<void> {
    const id = this.loginId(req);
    if (!id) return;
    await this.redis.multi().del(keys.login(id)).publish(channels.logouts, id).exec();
    // Here at once, not when the notice comes back: the next request may already be on its way.
    this.logins.drop(id);
  }

  /** The principal of a request: a Bearer token first, then the login cookie; undefined when neither is valid. */
  async identify(req: IncomingMessage): Promise<Readonly<Principal> | undefined> {
    const token = bearerToken(req);
    if (token !== undefined) return unexpired(await this.tokens.get(token));
    const id = this.loginId(req);
    return id ? this.logins.get(id) : undefined;
  }

  /**
   * What `identify` would say, when it can say so without a round trip (a login or token in memory); undefined
   * otherwise, so that the proxy's hot path waits on nothing.
   */
  recognise(req: IncomingMessage): Readonly<Principal> | undefined {
    const token = bearerToken(req);
    if (token !== undefined) return unexpired(this.tokens.peek(token));
    const id = this.loginId(req);
    return id ? this.logins.peek(id) : undefined;
  }

  /** Revokes one of `owner`'s tokens, on every gateway at once; false when there was no such token. */
  async revokeToken(owner: string, id: string): Promise<boolean> {
    if (!(await this.store.tokens.revoke(owner, id))) return false;
    this.tokens.dropWhere((token) => token.tokenId === id);
    await this.redis.publish(channels.tokenRevocations, id);
    return true;
  }

  private loginId(req: IncomingMessage): string | undefined {
    const cookie = parseCookies(req.headers.cookie).get(LOGIN_COOKIE);
    if (!cookie) return undefined;
    let id = this.verified.get(cookie);
    if (id) return id;
    id = unsign(cookie, this.settings.COOKIE_SECRET);
    if (!id) return undefined;
    // Only valid signatures are remembered, so nobody can fill this with junk; a revoked login is the logins cache's business.
    if (this.verified.size >= 100_000) this.verified.clear();
    this.verified.set(cookie, id);
    return id;
  }
}

/** Counts attempts per client in fixed one-minute windows; true while under `limit`. */
export async function withinRateLimit(redis: Redis, scope: string, client: string, limit: number): Promise<boolean> {
  const key = keys.rateLimit(scope, client);
  const [[, count] = [null, 0]] = (await redis.multi().incr(key).expire(key, 60, 'NX').exec()) ?? [];
  return Number(count) <= limit;
}
