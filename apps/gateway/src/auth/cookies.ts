import { createHmac, timingSafeEqual } from 'node:crypto';

/** The gateway's cookie: a login id, signed. Never forwarded into a session. */
export const LOGIN_COOKIE = 'visp_login';

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

/** The Cookie header without the gateway's own cookie, or undefined when nothing else is left. */
export function withoutLoginCookie(header: string | undefined): string | undefined {
  const rest = (header ?? '')
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part && !part.startsWith(`${LOGIN_COOKIE}=`));
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

export function loginCookie(value: string, options: { maxAgeSeconds: number; secure: boolean }): string {
  const attributes = [`${LOGIN_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${options.maxAgeSeconds}`];
  if (options.secure) attributes.push('Secure');
  return attributes.join('; ');
}
