// Session content on its own origin (issue 20, part 3). With SESSIONS_HOST=localhost a session is served at
// http://<sid>.localhost:<port>/, another origin than the gateway's: its scripts cannot use the viewer's cookie on
// the API or the webclient socket, cannot read or set the gateway's cookies, and cannot reach another session.
// Node's side speaks to 127.0.0.1 with the Host header (Node's resolver does not map *.localhost to loopback);
// Chromium resolves *.localhost to loopback itself, inside its own network namespace.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { testPodmanHost } from '@visp/testing';
import { launchChromium, signInOnPage } from './chromium';
import { upgradeStatus, useGatewayStack, type Auth } from './gateway-stack';
import { TEST_SECRETS } from './launch';
import { loopbackRequest, type LoopbackResponse } from './loopback-http';

const PORT = 19080;
const stack = useGatewayStack({ sessionManager: 19020, gateway: PORT }, 'origin', {
  SESSIONS_HOST: 'localhost',
  ADMIN_USERS: 'ada',
  ADMINS_OPEN_SESSIONS: 'true',
  // For the HTTPS case: the test's requests claim X-Forwarded-Proto as an edge would.
  TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
});
const GATEWAY = `localhost:${PORT}`;
const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));

/** A request to a named host on loopback, headers as given. */
const on = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<LoopbackResponse> =>
  loopbackRequest(`http://${host}${path}`, { method, headers: Object.entries(headers) });

/** The name=value of a Set-Cookie, and its attributes. */
const setCookieOf = (res: LoopbackResponse) => {
  const [first = ''] = res.headers['set-cookie'] ?? [];
  return { pair: first.split(';')[0] ?? '', attributes: first.split(';').slice(1).map((a) => a.trim()) };
};

/** Where a 303 sends the browser. */
function redirectOf(res: LoopbackResponse): URL {
  expect(res.status).toBe(303);
  return new URL(String(res.headers.location), 'http://relative.invalid');
}
const pathOf = (url: URL) => `${url.pathname}${url.search}`;

/**
 * A browser's way into a session's own host from `/s/<sid>/…` on the gateway's, each hop checked: to the
 * session's host, back to the gateway with a fresh entry state (in that host's entry cookie), there a one-time
 * code for that state, and the code exchanged for the session host's cookie. `extra` goes with every request.
 */
async function walkIn(sid: string, login: Auth, extra: Record<string, string> = {}) {
  const scheme = extra['x-forwarded-proto'] === 'https' ? 'https:' : 'http:';
  const host = `${sid}.localhost:${PORT}`;
  const there = redirectOf(await on(GATEWAY, `/s/${sid}/cgi-bin/env?x=1`, { ...login, ...extra }));
  expect([there.protocol, there.host, pathOf(there)]).toEqual([scheme, host, `/s/${sid}/cgi-bin/env?x=1`]);
  const bounce = await on(host, pathOf(there), { 'sec-fetch-mode': 'navigate', ...extra });
  const enter = redirectOf(bounce);
  const entryCookie = setCookieOf(bounce);
  expect([enter.protocol, enter.host, enter.pathname]).toEqual([scheme, GATEWAY, '/_visp/enter']);
  expect([enter.searchParams.get('sid'), enter.searchParams.get('next')]).toEqual([sid, `/s/${sid}/cgi-bin/env?x=1`]);
  expect(entryCookie.pair).toBe(`${scheme === 'https:' ? '__Host-' : ''}visp_entry=${enter.searchParams.get('state') ?? ''}`);
  const withCode = redirectOf(await on(GATEWAY, pathOf(enter), { ...login, ...extra }));
  expect([withCode.protocol, withCode.host, withCode.pathname]).toEqual([scheme, host, '/_visp/auth']);
  expect(withCode.searchParams.get('next')).toBe(`/s/${sid}/cgi-bin/env?x=1`);
  return { host, code: pathOf(withCode), entryCookie, enterUrl: pathOf(enter) };
}

/**
 * The status of an answer that lets nobody in: no cookie set, and a 303 only to the code's `next` on the same
 * host (where the browser enters again, as whoever it is).
 */
function notLetIn(res: LoopbackResponse): number {
  expect(res.headers['set-cookie']).toBeUndefined();
  if (res.status === 303) expect(String(res.headers.location)).toMatch(/^\/s\/[a-z2-7]{12}\/cgi-bin\/env\?x=1$/);
  return res.status;
}

/** walkIn to its end: the session host's cookie header. */
async function enterSession(sid: string, login: Auth): Promise<Auth> {
  const { host, code, entryCookie } = await walkIn(sid, login);
  return { cookie: setCookieOf(await on(host, code, { cookie: entryCookie.pair })).pair };
}

let alice: Auth;
let aliceSid: string;
let bobSid: string;
beforeAll(async () => {
  alice = await stack.signIn('alice');
  [aliceSid, bobSid] = [(await stack.launchSession(alice, 'echo')).session.sid, (await stack.launchSession(await stack.signIn('bob'), 'echo')).session.sid];
}, 120_000);

describe("a session's own host, through the real gateway", () => {
  it('is entered from the gateway with a one-time code, for the browser that asked, that becomes a cookie of that host only', async () => {
    const { host, code, entryCookie } = await walkIn(aliceSid, alice);
    expect(entryCookie.attributes).toEqual(['Path=/', 'HttpOnly', 'SameSite=Lax', 'Max-Age=300']);

    // A code is bound to its session: on bob's host it opens nothing, and it is spent. (A browser with an entry
    // state is sent on to the path, to enter again as itself: no cookie.)
    expect(notLetIn(await on(`${bobSid}.localhost:${PORT}`, code, { cookie: entryCookie.pair }))).toBe(303);
    expect(notLetIn(await on(host, code, { cookie: entryCookie.pair }))).toBe(303);
    expect(notLetIn(await on(host, code))).toBe(403);

    const fresh = await walkIn(aliceSid, alice);
    const arrive = await on(host, fresh.code, { cookie: fresh.entryCookie.pair });
    expect(arrive.status).toBe(303);
    expect(arrive.headers.location).toBe(`/s/${aliceSid}/cgi-bin/env?x=1`);
    const [session = '', spentEntry = ''] = arrive.headers['set-cookie'] ?? [];
    const pair = session.split(';')[0] ?? '';
    expect(pair).toMatch(/^visp_session=\S+$/);
    expect(session.split(';').slice(1).map((a) => a.trim())).toEqual(['Path=/', 'HttpOnly', 'SameSite=Lax']); // no Domain: this host only
    expect(spentEntry).toMatch(/^visp_entry=; .*Max-Age=0/);
    // Once only.
    expect(notLetIn(await on(host, fresh.code, { cookie: fresh.entryCookie.pair }))).toBe(303);

    // A browser that has the cookie goes from the gateway's host straight to the app.
    const again = redirectOf(await on(GATEWAY, `/s/${aliceSid}/cgi-bin/env`, alice));
    expect((await on(again.host, pathOf(again), { cookie: pair, 'sec-fetch-mode': 'navigate' })).status).toBe(200);

    // Every path of the host is the session's; neither the session's nor the gateway's cookie reaches the app.
    const env = await on(fresh.host, '/cgi-bin/env', { cookie: `${pair}; ${alice.cookie}; theme=dark` });
    expect(env.status).toBe(200);
    expect(env.body).toMatch(/^HTTP_COOKIE=theme=dark$/m);
    expect(env.body).toMatch(/^REQUEST_URI=\/cgi-bin\/env$/m);
    // `/api/v1` here is the app's, not the gateway's API.
    const api = await on(fresh.host, '/api/v1/me', { cookie: pair });
    expect(api.body).not.toContain('"username"');
  });

  it("the gateway's host no longer serves sessions to its cookie: scripts' requests, other methods and WebSockets are refused", async () => {
    expect((await on(GATEWAY, `/s/${aliceSid}/cgi-bin/env`, { ...alice, 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' })).status).toBe(403);
    expect((await on(GATEWAY, `/s/${aliceSid}/cgi-bin/env`, { ...alice, origin: `http://${GATEWAY}` }, 'POST')).status).toBe(403);
    expect(await upgradeStatus(`ws://127.0.0.1:${PORT}/s/${aliceSid}/`, { ...alice, origin: `http://127.0.0.1:${PORT}` })).toBe(403);
    // Nobody is sent anywhere without signing in, and another's session is still a 404.
    expect((await on(GATEWAY, `/s/${aliceSid}/cgi-bin/env`)).status).toBe(401);
    expect((await on(GATEWAY, `/s/${bobSid}/cgi-bin/env`, alice)).status).toBe(404);
    // An API token carries no ambient authority: scripts may still use /s/<sid>/ on the gateway's host with one.
    const created = await stack.api('/api/v1/tokens', alice, { method: 'POST', body: { name: 'script' } });
    const { token } = (await created.json()) as { token: string };
    expect((await on(GATEWAY, `/s/${aliceSid}/cgi-bin/env`, { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("takes only its own session's cookie: not the gateway's, not another session's, not from another origin's scripts", async () => {
    const mine = await enterSession(aliceSid, alice);
    const host = `${aliceSid}.localhost:${PORT}`;
    const script = { 'sec-fetch-mode': 'cors' };
    expect((await on(host, '/cgi-bin/env', { ...mine, ...script })).status).toBe(200);
    // The gateway's cookie, even if it reached this host, is not this host's credential.
    expect((await on(host, '/cgi-bin/env', { ...alice, ...script })).status).toBe(401);
    // Alice's session cookie on bob's host (as a tossed cookie would be) opens nothing.
    expect((await on(`${bobSid}.localhost:${PORT}`, '/cgi-bin/env', { ...mine, ...script })).status).toBe(401);
    // A neighbour session's page is the same site, so the browser would send the cookie: refused.
    expect((await on(host, '/cgi-bin/env', { ...mine, 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await on(host, '/cgi-bin/env', { ...mine, origin: `http://${bobSid}.localhost:${PORT}` }, 'POST')).status).toBe(403);
    // A browser arriving without the cookie is sent to the gateway to be let in again, with a state of its own.
    const bounce = await on(host, '/tree?x=1', { 'sec-fetch-mode': 'navigate' });
    const enter = redirectOf(bounce);
    expect(`${enter.origin}${enter.pathname}`).toBe(`http://${GATEWAY}/_visp/enter`);
    expect([enter.searchParams.get('sid'), enter.searchParams.get('next')]).toEqual([aliceSid, `/s/${aliceSid}/tree?x=1`]);
    expect(setCookieOf(bounce).pair).toBe(`visp_entry=${enter.searchParams.get('state') ?? ''}`);
  });

  it('serves nothing on a host below the gateway’s that names no session: no second gateway origin', async () => {
    for (const host of [`www.localhost:${PORT}`, `${aliceSid}x.localhost:${PORT}`, `a.${aliceSid}.localhost:${PORT}`]) {
      expect([host, (await on(host, '/api/v1/me', alice)).status, (await on(host, '/', alice)).status]).toEqual([host, 404, 404]);
      expect(await upgradeStatus(`ws://127.0.0.1:${PORT}/api/v1/ws`, { ...alice, host, origin: `http://${host}` })).toBe(404);
    }
  });

  it('lets two tabs of one browser enter at once: the later entry state fails the earlier code, which starts again', async () => {
    const [first, second] = [await walkIn(aliceSid, alice), await walkIn(aliceSid, alice)];
    // One cookie jar: the second tab's entry state replaced the first's.
    const jar = second.entryCookie.pair;
    const firstTab = await on(first.host, first.code, { cookie: jar, 'sec-fetch-mode': 'navigate' });
    expect(notLetIn(firstTab)).toBe(303);
    const secondTab = await on(second.host, second.code, { cookie: jar, 'sec-fetch-mode': 'navigate' });
    const session = setCookieOf(secondTab).pair;
    expect([secondTab.status, session]).toEqual([303, expect.stringMatching(/^visp_session=\S+$/)]);
    // The first tab follows its redirect with the cookie the second one got: it is in.
    const page = await on(first.host, String(firstTab.headers.location), { cookie: session, 'sec-fetch-mode': 'navigate' });
    expect(page.status).toBe(200);
  });

  it("a code minted in one browser opens nothing in another (login CSRF: bob's link into his session, sent to alice)", async () => {
    const bob = await stack.signIn('bob');
    const { host, code, enterUrl } = await walkIn(bobSid, bob);
    // Alice's browser follows bob's link: without an entry state, or with one of her own on bob's host.
    const own = setCookieOf(await on(host, `/s/${bobSid}/`, { 'sec-fetch-mode': 'navigate' })).pair;
    for (const cookie of [undefined, own, `${alice.cookie ?? ''}; ${own}`]) {
      const fresh = cookie === undefined ? code : (await walkIn(bobSid, bob)).code;
      // Refused; with an entry state of her own, sent on to enter as herself, where bob's session is not hers.
      expect(notLetIn(await on(host, fresh, cookie === undefined ? {} : { cookie }))).toBe(cookie === undefined ? 403 : 303);
    }
    // Bob cannot mint a code for a state he chose for alice either: the gateway mints for its signed-in owner only.
    expect((await on(GATEWAY, enterUrl, alice)).status).toBe(404);
    expect((await on(GATEWAY, enterUrl)).status).toBe(401);
    // Nor with an API token: a code is for a browser.
    const created = await stack.api('/api/v1/tokens', bob, { method: 'POST', body: { name: 'entry' } });
    const { token } = (await created.json()) as { token: string };
    expect((await on(GATEWAY, enterUrl, { authorization: `Bearer ${token}` })).status).toBe(403);
  });

  it('ends with the login: signing out (from the gateway only) ends the session host cookie too', async () => {
    const login = await stack.signIn('alice');
    const mine = await enterSession(aliceSid, login);
    const host = `${aliceSid}.localhost:${PORT}`;
    // A session's page cannot sign anyone out, nor mint a token or change anything with the gateway's cookie.
    const fromSession = { origin: `http://${host}` };
    expect((await on(GATEWAY, '/auth/logout', { ...login, ...fromSession }, 'POST')).status).toBe(403);
    expect((await on(GATEWAY, '/api/v1/tokens', { ...login, ...fromSession, 'content-type': 'application/json' }, 'POST')).status).toBe(403);
    expect((await on(host, '/cgi-bin/env', mine)).status).toBe(200);
    expect((await on(GATEWAY, '/auth/logout', { ...login, origin: `http://${GATEWAY}` }, 'POST')).status).toBe(204);
    expect((await on(host, '/cgi-bin/env', { ...mine, 'sec-fetch-mode': 'cors' })).status).toBe(401);
  });

  it('under HTTPS, uses __Host- cookies and reads no cookie under the plain name', async () => {
    const https = { 'x-forwarded-proto': 'https', origin: `https://${GATEWAY}`, 'content-type': 'application/json' };
    const res = await loopbackRequest(`http://${GATEWAY}/auth/login`, {
      method: 'POST',
      headers: Object.entries(https),
      body: JSON.stringify({ username: 'hanna', key: TEST_SECRETS.TEST_USER_LOGIN_KEY }),
    });
    expect(res.status).toBe(200);
    const { pair, attributes } = setCookieOf(res);
    expect(pair).toMatch(/^__Host-visp_login=\S+$/);
    expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'Secure']));
    expect(attributes.join(';')).not.toContain('Domain');
    const value = pair.slice(pair.indexOf('=') + 1);
    expect((await on(GATEWAY, '/api/v1/me', { ...https, cookie: pair })).status).toBe(200);
    // The same value under the name a neighbour host could set over plain HTTP: not signed in.
    expect((await on(GATEWAY, '/api/v1/me', { ...https, cookie: `visp_login=${value}` })).status).toBe(401);
    const { host, code, entryCookie } = await walkIn(aliceSid, { cookie: `__Host-${alice.cookie ?? ''}` }, { 'x-forwarded-proto': 'https' });
    expect(entryCookie.attributes).toEqual(expect.arrayContaining(['Path=/', 'Secure']));
    const arrive = await on(host, code, { 'x-forwarded-proto': 'https', cookie: entryCookie.pair });
    expect(setCookieOf(arrive).pair).toMatch(/^__Host-visp_session=\S+$/);
    expect(setCookieOf(arrive).attributes).toEqual(expect.arrayContaining(['Path=/', 'Secure']));
    // The entry state under the plain name, as a neighbour host could set it over plain HTTP, does not count.
    const again = await walkIn(aliceSid, { cookie: `__Host-${alice.cookie ?? ''}` }, { 'x-forwarded-proto': 'https' });
    const plain = again.entryCookie.pair.replace('__Host-', '');
    expect((await on(host, again.code, { 'x-forwarded-proto': 'https', cookie: plain })).status).toBe(403);
  });
});

/** Runs on a session's page: every attack, each outcome written into #out as JSON. */
const ATTACK_PAGE = `<!doctype html><html><body><pre id="out"></pre><script>
(async () => {
  const gateway = 'http://${GATEWAY}';
  const bob = new URLSearchParams(location.search).get('bob');
  const out = {};
  const attempt = async (name, run) => { try { out[name] = await run(); } catch (e) { out[name] = 'failed: ' + e.message; } };
  const read = async (res) => 'read ' + res.status + ' ' + (await res.text()).slice(0, 200);
  await attempt('mintToken', async () => read(await fetch(gateway + '/api/v1/tokens', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{"name":"stolen"}' })));
  // A "simple" request needs no preflight: its answer is opaque, but it would be sent with the cookie.
  await attempt('mintTokenBlind', async () => (await fetch(gateway + '/api/v1/tokens', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"name":"stolen-blind"}' }), 'sent'));
  await attempt('me', async () => read(await fetch(gateway + '/api/v1/me', { credentials: 'include' })));
  await attempt('webclient', () => new Promise((resolve) => {
    const ws = new WebSocket('ws://${GATEWAY}/api/v1/ws');
    ws.onopen = () => ws.send(JSON.stringify({ type: 'cmd', cmd: 'listSessions', requestId: 'r1', data: {} }));
    ws.onmessage = (m) => resolve('open: ' + String(m.data).slice(0, 200));
    ws.onerror = () => resolve('failed');
    ws.onclose = (e) => resolve('closed ' + e.code);
  }));
  await attempt('logout', async () => (await fetch(gateway + '/auth/logout', { method: 'POST', credentials: 'include', mode: 'no-cors' }), 'sent'));
  out.cookies = document.cookie;
  document.cookie = 'visp_login=forged; Path=/api';
  document.cookie = 'visp_login=forged; Domain=localhost; Path=/';
  document.cookie = 'visp_session=forged; Domain=localhost; Path=/';
  await attempt('bobsHost', async () => read(await fetch('http://' + bob + '.localhost:${PORT}/cgi-bin/env', { credentials: 'include' })));
  await attempt('bobsPath', async () => read(await fetch(gateway + '/s/' + bob + '/cgi-bin/env', { credentials: 'include' })));
  await attempt('bobsPathHere', async () => read(await fetch('/s/' + bob + '/cgi-bin/env', { credentials: 'include' })));
  const el = document.getElementById('out');
  el.textContent = JSON.stringify(out);
  el.dataset.done = 'yes';
})();
</script></body></html>`;

describe('a page of a session, in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium(stack.url);
    // Alice's session serves the page from its home's www directory (busybox httpd).
    const page = Buffer.from(ATTACK_PAGE).toString('base64');
    const wrote = await podman.exec(`visp-session-echo-${aliceSid}`, ['sh', '-c', `echo ${page} | base64 -d > www/attack.html && echo ok`]);
    expect(wrote.stdout.trim()).toBe('ok');
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Signs `username` in on the start page at the gateway's address; returns the context and that page. */
  async function signedIn(username: string): Promise<{ context: BrowserContext; start: Page }> {
    const context = await browser.newContext();
    const start = await context.newPage();
    await start.goto(`http://${GATEWAY}/`);
    await signInOnPage(start, username, TEST_SECRETS.TEST_USER_LOGIN_KEY);
    return { context, start };
  }

  /** Opens alice's attack page the way a link does, through the gateway; returns what each attack got. */
  async function attack(context: BrowserContext): Promise<Record<string, string>> {
    const page = await context.newPage();
    await page.goto(`http://${GATEWAY}/s/${aliceSid}/attack.html?bob=${bobSid}`);
    expect(new URL(page.url()).origin).toBe(`http://${aliceSid}.localhost:${PORT}`);
    const out = page.locator('#out[data-done="yes"]');
    await out.waitFor();
    return JSON.parse((await out.textContent()) ?? '{}') as Record<string, string>;
  }

  /** What must hold after the attacks, seen from the gateway's own page: same user, no new token, one login cookie. */
  async function unharmed(context: BrowserContext, start: Page, username: string): Promise<void> {
    const me = await start.evaluate(async () => (await fetch('/api/v1/me')).json() as Promise<{ username?: string }>);
    expect(me.username).toBe(username);
    const tokens = await start.evaluate(async () => (await fetch('/api/v1/tokens')).json() as Promise<{ tokens: Array<{ name: string }> }>);
    expect(tokens.tokens.map((t) => t.name)).not.toEqual(expect.arrayContaining(['stolen']));
    expect(tokens.tokens.map((t) => t.name)).not.toEqual(expect.arrayContaining(['stolen-blind']));
    const gatewayCookies = (await context.cookies(`http://${GATEWAY}/api/v1/me`)).filter((c) => c.name.includes('visp'));
    expect(gatewayCookies.map((c) => [c.name, c.domain, c.httpOnly])).toEqual([['visp_login', 'localhost', true]]);
  }

  const expectAllFailed = (out: Record<string, string>) => {
    expect(out.mintToken).toMatch(/^failed/);
    expect(out.me).toMatch(/^failed/);
    expect(out.webclient).not.toMatch(/^open/);
    expect(out.cookies).toBe('');
    expect(out.bobsHost).toMatch(/^failed/);
    expect(out.bobsPath).toMatch(/^failed/);
    // On alice's host, /s/<bob>/… is a path of alice's session (busybox answers 404), never bob's.
    expect(out.bobsPathHere).not.toMatch(/HTTP_AUTHORIZATION/);
  };

  it("bob's link into his own session, opened in alice's browser, does not put her there (login CSRF)", async () => {
    const { host, code } = await walkIn(bobSid, await stack.signIn('bob'));
    const { context } = await signedIn('alice');
    const page = await context.newPage();
    const followed = await page.goto(`http://${host}${code}`);
    expect(followed?.status()).toBe(403);
    expect(new URL(page.url()).host).toBe(host);
    expect((await context.cookies(`http://${host}/`)).map((c) => c.name)).not.toContain('visp_session');
    await context.close();
  }, 60_000);

  it("alice's own session cannot use her login: API, webclient socket, cookies, logout and bob's session all fail", async () => {
    const { context, start } = await signedIn('alice');
    const out = await attack(context);
    expectAllFailed(out);
    await unharmed(context, start, 'alice');
    await context.close();
  }, 60_000);

  it("nor an admin's, who may open both sessions (ADMINS_OPEN_SESSIONS) and has opened bob's", async () => {
    const { context, start } = await signedIn('ada');
    const bobs = await context.newPage();
    await bobs.goto(`http://${GATEWAY}/s/${bobSid}/cgi-bin/env`);
    expect(new URL(bobs.url()).origin).toBe(`http://${bobSid}.localhost:${PORT}`);
    expect(await bobs.textContent('body')).toMatch(/HTTP_AUTHORIZATION=token/);
    const out = await attack(context);
    expectAllFailed(out);
    await unharmed(context, start, 'ada');
    await context.close();
  }, 60_000);
});
