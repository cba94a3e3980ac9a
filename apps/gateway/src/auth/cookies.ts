import { createHmac, timingSafeEqual } from 'node:crypto';

/** The gateway's cookie: a login id, signed. Never forwarded into a session. */
export const LOGIN_COOKIE = 'visp_login';
/** A session host's own cookie: its session id and the login that opened it, signed. Never forwarded either. */
export const SESSION_COOKIE = 'visp_session';
/** A session host's entry state while its browser makes the round trip through the gateway (session-host.ts). */
export const ENTRY_COOKIE = 'visp_entry';
/**
 * The sign-in for VISP's app hosts (APP_HOSTS), the same signed login id as the gateway's cookie but for
 * COOKIE_DOMAIN and its subdomains, and read on app hosts only: a cookie any subdomain (a session's host) could
 * set or shadow never signs anyone in on the gateway's own host.
 */
export const APP_LOGIN_COOKIE = 'visp_app_login';

/**
 * A host-only cookie's name as set and read: `__Host-` prefixed under HTTPS, so that browsers accept it only
 * host-only, Secure and for `/`, and no other host (a session's subdomain above all) can set or shadow it.
 */
export const cookieName = (name: string, secure: boolean) => (secure ? `__Host-${name}` : name);
/** The app hosts' cookie's name: `__Secure-` under HTTPS (it has a Domain, which `__Host-` forbids). */
export const appCookieName = (secure: boolean) => (secure ? `__Secure-${APP_LOGIN_COOKIE}` : APP_LOGIN_COOKIE);

/** Every name the gateway's own cookies may have: none of them reaches an app. */
export const GATEWAY_COOKIES: readonly string[] = [
  ...[LOGIN_COOKIE, SESSION_COOKIE, ENTRY_COOKIE].flatMap((name) => [name, `__Host-${name}`]),
  APP_LOGIN_COOKIE,
  `__Secure-${APP_LOGIN_COOKIE}`,
];
/** VISP's name for the cookie that picks the session an app host shows (its value: the session id). */
export const SESSION_ACCESS_COOKIE = 'SessionAccessCode';

/**
 * The value of a cookie the request carries, when every copy of it says the same; undefined when it is missing
 * or two copies differ. A browser sends two of a name when another host of the site (a session's) set one for the
 * parent domain or a longer path: which is whose, nobody can tell, and the first (the longer path's) is the
 * planted one. (VISP's webclient sets SessionAccessCode for the domain and the app host sets its own: the same.)
 */
export function onlyCookie(header: string | undefined, name: string): string | undefined {
  let value: string | undefined;
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue;
    const copy = part.slice(eq + 1).trim();
    if (value !== undefined && copy !== value) return undefined;
    value = copy;
  }
  return value;
}

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

/** Names no app may set, compared as browsers compare prefixes (case-insensitively) and without them. */
const RESERVED_NAMES = new Set([LOGIN_COOKIE, SESSION_COOKIE, ENTRY_COOKIE, APP_LOGIN_COOKIE, SESSION_ACCESS_COOKIE].map((name) => name.toLowerCase()));
const reservedName = (name: string) => {
  const bare = name.trim().toLowerCase().replace(/^__(host|secure)-/, '');
  return RESERVED_NAMES.has(bare) || SSO_COOKIE_PREFIXES.some((prefix) => bare.startsWith(prefix.toLowerCase()));
};

/**
 * What of an app's `Set-Cookie` headers reaches the browser: its own cookies, host-only (a `Domain` attribute
 * removed), so that no session sets a cookie for its neighbours, the app hosts or the gateway; and none under a
 * name of the gateway's, VISP's SessionAccessCode or the SP's, whatever their case or prefix, which would replace
 * the viewer's sign-in (a cookie of the same name, domain and path replaces it, HttpOnly or not).
 */
export function appSetCookies(values: readonly string[]): string[] {
  const kept: string[] = [];
  for (const value of values) {
    const [pair = '', ...attributes] = value.split(';');
    // A nameless cookie (`=v` or `v`) is sent as its bare value, which may look like a reserved pair.
    const name = pair.indexOf('=') < 0 ? '' : pair.slice(0, pair.indexOf('=')).trim();
    if (!name || reservedName(name)) continue;
    kept.push([pair, ...attributes.filter((attribute) => !/^\s*domain\s*(=|$)/i.test(attribute))].join(';'));
  }
  return kept;
}

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
