import { createHmac, timingSafeEqual } from 'node:crypto';

/** The gateway's cookie: a login id, signed. Never forwarded into a session. */
export const LOGIN_COOKIE = 'visp_login';
/** A session host's own cookie: its session id and the login that opened it, signed. Never forwarded either. */
export const SESSION_COOKIE = 'visp_session';
/** A session host's entry state while its browser makes the round trip through the gateway (session-host.ts). */
export const ENTRY_COOKIE = 'visp_entry';

/**
 * A cookie's name as set and read: `__Host-` prefixed under HTTPS, so that browsers accept it only host-only,
 * Secure and for `/`, and no other host (a session's subdomain above all) can set or shadow it. A cookie that
 * must reach other hosts (`COOKIE_DOMAIN`, for VISP's app host) cannot carry the prefix.
 */
export const cookieName = (name: string, secure: boolean, domain?: string) => (secure && !domain ? `__Host-${name}` : name);

/** Every name the gateway's own cookies may have: none of them reaches an app. */
export const GATEWAY_COOKIES: readonly string[] = [LOGIN_COOKIE, SESSION_COOKIE, ENTRY_COOKIE].flatMap((name) => [name, `__Host-${name}`]);
/** VISP's name for the cookie that picks the session an app host shows (its value: the session id). */
export const SESSION_ACCESS_COOKIE = 'SessionAccessCode';

/** `a=1; b=2` → {a:'1', b:'2'}; the first of a repeated name wins, malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/**
 * The Shibboleth SP's cookies, by their name's start (`_shibsession_<hash>`…): on the gateway's host they reach
 * `/s/<sid>/` too, and a session that read one could sign in at /auth/sso as whoever opened it.
 */
export const SSO_COOKIE_PREFIXES: readonly string[] = ['_shibsession_', '_shibstate_', '_opensaml_'];

/**
 * The Cookie header without the named cookies (the gateway's own) and those whose name starts with one of
 * `prefixes`, or undefined when nothing else is left.
 */
export function withoutCookies(header: string | undefined, names: readonly string[], prefixes: readonly string[] = []): string | undefined {
  const rest = (header ?? '')
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part && !names.some((name) => part.startsWith(`${name}=`)) && !prefixes.some((prefix) => part.startsWith(prefix)));
  return rest.length > 0 ? rest.join('; ') : undefined;
}

const mac = (value: string, secret: string) => createHmac('sha256', secret).update(value).digest('base64url');

export const sign = (value: string, secret: string) => `${value}.${mac(value, secret)}`;

/** The value when the signature is right, else undefined. */
export function unsign(signed: string, secret: string): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  const [given, expected] = [Buffer.from(signed.slice(dot + 1)), Buffer.from(mac(value, secret))];
  return given.length === expected.length && timingSafeEqual(given, expected) ? value : undefined;
}

export interface CookieOptions {
  /** 0 deletes the cookie; unset: it lasts as long as the browser runs. */
  maxAgeSeconds?: number;
  secure: boolean;
  /** Also sent to this domain's subdomains; unset: this host only. */
  domain?: string;
}

/** A Set-Cookie value for one of the gateway's cookies: HttpOnly, SameSite=Lax, for the whole host. */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  const attributes = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (options.maxAgeSeconds !== undefined) attributes.push(`Max-Age=${options.maxAgeSeconds}`);
  if (options.domain) attributes.push(`Domain=${options.domain}`);
  if (options.secure) attributes.push('Secure');
  return attributes.join('; ');
}

/** Whether a cookie set with `domain` (none: host-only) is sent to `host` (RFC 6265 §5.1.3 domain-match). */
export function cookieReaches(domain: string | undefined, host: string): boolean {
  return domain !== undefined && (host === domain || host.endsWith(`.${domain}`));
}
