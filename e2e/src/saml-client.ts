// A browser's part in a SAML Web SSO sign-in, without a browser: follows redirects, keeps cookies per host, fills
// the IdP's login form and submits the auto-posting forms (the SAML HTTP-POST binding) until the gateway answers.
import { loopbackRequest, type LoopbackResponse } from './loopback-http';

/** Cookies by host, as a browser keeps them for plain-HTTP hosts (path and expiry are all this flow needs). */
export class CookieJar {
  private readonly byHost = new Map<string, Map<string, string>>();

  take(host: string, res: LoopbackResponse): void {
    const jar = this.byHost.get(host) ?? new Map<string, string>();
    this.byHost.set(host, jar);
    for (const line of res.headers['set-cookie'] ?? []) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01.jan.1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  get(host: string, name: string): string | undefined {
    return this.byHost.get(host)?.get(name);
  }

  header(host: string): Array<[string, string]> {
    const jar = this.byHost.get(host);
    return jar && jar.size ? [['Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; ')]] : [];
  }
}

const decodeEntities = (text: string) =>
  text
    .replace(/&#x([0-9a-f]+);/gi, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_m, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

const attribute = (tag: string, name: string) => {
  const match = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
  return match ? decodeEntities(match[2] ?? match[3] ?? '') : undefined;
};

/** The first form of a page: its action and its named inputs (submit buttons left out). */
function firstForm(html: string): { action: string; fields: Map<string, string> } | undefined {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const fields = new Map<string, string>();
  for (const input of form[1]?.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, 'name');
    const type = (attribute(input, 'type') ?? 'text').toLowerCase();
    if (name && !['submit', 'button', 'image', 'checkbox'].includes(type)) fields.set(name, attribute(input, 'value') ?? '');
  }
  return { action: attribute(form[0], 'action') ?? '', fields };
}

export interface SignInResult {
  /** The gateway's answer to the SP's /auth/sso. */
  final: LoopbackResponse;
  jar: CookieJar;
  /** Every URL visited, for a failing test's message. */
  trail: string[];
}

/**
 * Starts at `start` (the gateway's SSO link) and plays the browser until the gateway's own /auth/sso answers.
 * `extraHeaders` go with every request to the site (an attacker signing in while forging headers).
 */
export async function samlSignIn(start: string, user: { login: string; password: string }, options: { jar?: CookieJar; extraHeaders?: Array<[string, string]> } = {}): Promise<SignInResult> {
  const jar = options.jar ?? new CookieJar();
  const siteHost = new URL(start).host;
  const trail: string[] = [];
  let url = start;
  let method = 'GET';
  let body: string | undefined;
  for (let step = 0; step < 12; step++) {
    const host = new URL(url).host;
    trail.push(`${method} ${url}`);
    const headers: Array<[string, string]> = [...jar.header(host), ...(host === siteHost ? (options.extraHeaders ?? []) : [])];
    if (body !== undefined) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
    const res = await loopbackRequest(url, { method, headers, body });
    jar.take(host, res);
    trail.push(`→ ${res.status}`);
    if (host === siteHost && new URL(url).pathname === '/auth/sso' && (res.status !== 302 || !String(res.headers.location).includes('/simplesaml/'))) return { final: res, jar, trail };
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location) {
      [url, method, body] = [new URL(location, url).toString(), 'GET', undefined];
      continue;
    }
    const form = res.status === 200 ? firstForm(res.body) : undefined;
    if (!form) throw new Error(`SAML sign-in stopped at ${url} (${res.status}): ${res.body.slice(0, 500)}\n${trail.join('\n')}`);
    if (form.fields.has('username') || form.fields.has('password')) {
      form.fields.set('username', user.login);
      form.fields.set('password', user.password);
    }
    [url, method, body] = [new URL(form.action || url, url).toString(), 'POST', new URLSearchParams([...form.fields]).toString()];
  }
  throw new Error(`SAML sign-in did not finish:\n${trail.join('\n')}`);
}
