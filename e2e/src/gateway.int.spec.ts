// The gateway and the session-manager as built, with real Redis, database and Podman, used only through the
// gateway: sign-in, the public API, the session proxy over HTTP and WebSocket, and what must be refused.
import { request, type IncomingHttpHeaders } from 'node:http';
import type WebSocket from 'ws';
import type { SessionTypesView, SessionView } from '@visp/contracts';
import { closeRedis, createRedis, keys } from '@visp/bus';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { execute, openKernel, testPodmanHost } from '@visp/testing';
import { upgradeStatus as upgrade, useGatewayStack } from './gateway-stack';
import { launch, TEST_SECRETS } from './launch';

const GW_PORT = 18180;
/** A gateway serving VISP's app host. */
const APP_PORT = 18183;
const stack = useGatewayStack({ sessionManager: 18120, gateway: GW_PORT }, 'gw', { LOGIN_RATE_LIMIT: '10' });
const redis = createRedis(stack.redisUrl(), { name: 'e2e' });
const { url: GW, origin: ORIGIN, api, launchSession, signIn, startGateway } = stack;
afterAll(() => closeRedis(redis));

describe('a user, through the gateway only', () => {
  it('signs in, launches Jupyter, follows it to ready, runs code over the proxied kernel WebSocket, and stops it', async () => {
    const cookie = await signIn('alice@uni.se');
    expect(await (await api('/api/v1/me', cookie)).json()).toMatchObject({ username: 'alice@uni.se', admin: false, via: 'login' });

    const { session, stream } = await launchSession(cookie, 'jupyter');
    // The stream starts where the session is when it connects; the steps from then on follow.
    expect(stream.filter((m) => m.kind === 'progress').map((m) => (m.kind === 'progress' ? m.step : ''))).toEqual(expect.arrayContaining(['waiting-ready', 'ready']));
    const base = `${GW}/s/${session.sid}/`;
    expect((await fetch(`${base}api/status`, { headers: cookie })).status).toBe(200);

    const before = Date.now();
    expect(await runOnKernel(base, cookie, '6*7')).toBe('42');
    // Work through the proxy is the user's activity, which keeps the session from being culled.
    expect(Number(await redis.zscore(keys.activity, session.sid))).toBeGreaterThanOrEqual(before);

    // Signing out ends that login at once, in the proxy too (which keeps logins in memory); others go on.
    // Its open WebSockets end with it: they were checked only when they opened.
    const second = await signIn('alice@uni.se');
    expect((await fetch(`${base}api/status`, { headers: second })).status).toBe(200);
    const secondSocket = await kernelSocket(base, second);
    const secondClosed = closedWith(secondSocket);
    expect(await execute(secondSocket, '1+1')).toBe('2');
    expect((await api('/auth/logout', second, { method: 'POST' })).status).toBe(204);
    expect(await secondClosed).toBe(1006);
    expect((await fetch(`${base}api/status`, { headers: second })).status).toBe(401);
    expect((await fetch(`${base}api/status`, { headers: cookie })).status).toBe(200);
    expect(await runOnKernel(base, cookie, '7*6')).toBe('42');

    expect(await (await api(`/api/v1/sessions/${session.sid}`, cookie, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
    expect((await fetch(`${base}api/status`, { headers: cookie })).status).toBe(404);
  }, 180_000);

  it('does the same with an API token and no cookie; the token works until revoked', async () => {
    const cookie = await signIn('bob');
    const created = await api('/api/v1/tokens', cookie, { method: 'POST', body: { name: 'analysis script', expiresInDays: 30 } });
    expect(created.status).toBe(201);
    const { token, id } = (await created.json()) as { token: string; id: string };
    const bearer = { authorization: `Bearer ${token}` };
    expect(await (await api('/api/v1/tokens', cookie)).json()).toMatchObject({ tokens: [{ id, name: 'analysis script' }] });
    expect(JSON.stringify(await (await api('/api/v1/tokens', cookie)).json())).not.toContain(token);

    expect((await api('/api/v1/tokens', bearer, { method: 'POST', body: { name: 'child' } })).status).toBe(403);
    const { session } = await launchSession(bearer, 'jupyter');
    expect(await runOnKernel(`${GW}/s/${session.sid}/`, bearer, 'sum(range(10))')).toBe('45');
    expect(await (await api('/api/v1/sessions', bearer)).json()).toMatchObject({ sessions: [{ sid: session.sid, owner: 'bob', state: 'ready' }] });

    // Revoking the token ends what it opened too.
    const tokenSocket = await kernelSocket(`${GW}/s/${session.sid}/`, bearer);
    const tokenClosed = closedWith(tokenSocket);
    expect((await api(`/api/v1/tokens/${id}`, cookie, { method: 'DELETE' })).status).toBe(204);
    expect(await tokenClosed).toBe(1006);
    expect((await api('/api/v1/sessions', bearer)).status).toBe(401);
    expect((await api(`/api/v1/sessions/${session.sid}`, cookie, { method: 'DELETE' })).status).toBe(200);
  }, 180_000);
});

/** Starts a kernel through the proxy and opens its channels' WebSocket. */
async function kernelSocket(base: string, auth: Record<string, string>): Promise<WebSocket> {
  const kernel = await fetch(`${base}api/kernels`, { method: 'POST', headers: { ...auth, ...ORIGIN, 'content-type': 'application/json' }, body: '{"name":"python3"}' });
  expect(kernel.status).toBe(201);
  const { id } = (await kernel.json()) as { id: string };
  return openKernel(`${base.replace('http', 'ws')}api/kernels/${id}/channels`, { ...auth, ...ORIGIN });
}

/** The close code `ws` ends with, within 10 s. */
const closedWith = (ws: WebSocket) =>
  new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the WebSocket is still open after 10 s')), 10_000);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });

/** Starts a kernel through the proxy, runs `code` over its WebSocket, and returns what it printed. */
async function runOnKernel(base: string, auth: Record<string, string>, code: string): Promise<string> {
  const ws = await kernelSocket(base, auth);
  try {
    return await execute(ws, code);
  } finally {
    ws.close();
  }
}

describe('the page and the API description', () => {
  let olga: Record<string, string>;
  beforeAll(async () => {
    olga = await signIn('olga');
  });

  it('serves the start page with a strict Content-Security-Policy, no framing and no sniffing', async () => {
    for (const file of ['/', '/app.js', '/app.css']) {
      const res = await fetch(`${GW}${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'.*frame-ancestors 'none'/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    expect((await fetch(`${GW}/api/v1/me`)).headers.get('x-content-type-options')).toBe('nosniff');
    expect(await (await fetch(`${GW}/auth/config`)).json()).toEqual({ mode: 'dev-key' });
  });

  it('describes in OpenAPI exactly the routes that exist, each guarded as documented', async () => {
    const doc = (await (await fetch(`${GW}/api/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }; responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    // A launch as the session-manager takes it: one of its types, with limits up to that type's maximum.
    interface Limit {
      maximum: number;
    }
    type Launch = { properties: { type: { const: string }; project: unknown; limits: { properties: { memoryMiB: Limit; cpus: Limit; pids: Limit } } } };
    const launch = doc.paths['/api/v1/sessions']?.post?.requestBody?.content['application/json']?.schema as { anyOf?: Launch[] };
    const { types } = (await (await api('/api/v1/session-types', olga)).json()) as SessionTypesView;
    const described = (launch.anyOf ?? []).map(({ properties: p }) => [Object.keys(p).sort(), p.type.const, p.limits.properties.memoryMiB.maximum, p.limits.properties.cpus.maximum, p.limits.properties.pids.maximum]);
    expect(described).toEqual(types.map((t) => [['limits', 'project', 'type'], t.name, t.limits.max.memoryMiB, t.limits.max.cpus, t.limits.max.pids]));
    expect(types.length).toBeGreaterThan(1);

    const sample = { sid: 'aaaaaaaaaaaa', id: '000000000000000000000000' };
    let checked = 0;
    for (const [template, operations] of Object.entries(doc.paths)) {
      const route = template.replace(/\{(\w+)\}/g, (_m, name: keyof typeof sample) => sample[name]);
      for (const [method, operation] of Object.entries(operations)) {
        const anonymous = await fetch(`${GW}${route}`, { method: method.toUpperCase(), headers: ORIGIN, redirect: 'manual' });
        if (operation.security?.length === 0) {
          expect([route, anonymous.status < 500]).toEqual([route, true]); // open to all, and sturdy without input
          continue;
        }
        expect([method, route, anonymous.status]).toEqual([method, route, 401]);
        if (operation.responses['403'] && route.includes('/admin/')) {
          expect([method, route, (await api(route, olga, { method: method.toUpperCase() })).status]).toEqual([method, route, 403]);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });
});

describe('what the gateway refuses', () => {
  let carol: Record<string, string>;
  let dave: Record<string, string>;
  let echo: SessionView;
  beforeAll(async () => {
    carol = await signIn('carol');
    dave = await signIn('dave');
    echo = (await launchSession(carol, 'echo')).session;
  }, 60_000);
  afterAll(async () => {
    await api(`/api/v1/sessions/${echo.sid}`, carol, { method: 'DELETE' });
  });

  it("gives another user a 404 for carol's session, over the API, HTTP and WebSocket", async () => {
    expect((await api(`/api/v1/sessions/${echo.sid}`, dave)).status).toBe(404);
    expect((await api(`/api/v1/sessions/${echo.sid}`, dave, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${GW}/s/${echo.sid}/cgi-bin/env`, { headers: dave })).status).toBe(404);
    expect(await upgrade(`ws://127.0.0.1:${GW_PORT}/s/${echo.sid}/`, { ...dave, ...ORIGIN })).toBe(404);
    expect((await fetch(`${GW}/s/${echo.sid}/cgi-bin/env`)).status).toBe(401);
    expect((await fetch(`${GW}/s/${echo.sid}/cgi-bin/env`, { headers: carol })).status).toBe(200);
  });

  it("never lets the gateway's cookie or the user's credentials reach the container; the app's token replaces them", async () => {
    // The SP's session cookie, which the browser sends to the gateway's host too, would sign the app in as carol.
    const shib = '_shibsession_64656661756c7468=_f4567a0123; _opensaml_req_ss%3Amem%3Aab=1';
    const env = await (await fetch(`${GW}/s/${echo.sid}/cgi-bin/env`, { headers: { cookie: `${shib}; ${carol.cookie}; theme=dark` } })).text();
    expect(env).not.toContain('visp_login');
    expect(env).not.toMatch(/_shibsession_|_opensaml_/);
    expect(env).toMatch(/^HTTP_COOKIE=theme=dark$/m);
    expect(env).toMatch(/^HTTP_AUTHORIZATION=token \S{16,}$/m);
    const withToken = await fetch(`${GW}/s/${echo.sid}/cgi-bin/env`, { headers: { ...carol, authorization: 'Basic Y2Fyb2w6c2VjcmV0' } });
    expect(await withToken.text()).not.toContain('Y2Fyb2w6c2VjcmV0');
  });

  it('refuses cross-origin changes and WebSocket upgrades made with the cookie', async () => {
    const evil = { origin: 'https://evil.example' };
    const before = ((await (await api('/api/v1/sessions', carol)).json()) as { sessions: unknown[] }).sessions.length;
    expect((await api('/api/v1/sessions', carol, { method: 'POST', body: { type: 'echo' }, headers: evil })).status).toBe(403);
    expect((await api(`/api/v1/sessions/${echo.sid}`, carol, { method: 'DELETE', headers: evil })).status).toBe(403);
    expect((await fetch(`${GW}/s/${echo.sid}/cgi-bin/env`, { method: 'POST', headers: { ...carol, ...evil } })).status).toBe(403);
    expect(await upgrade(`ws://127.0.0.1:${GW_PORT}/s/${echo.sid}/`, { ...carol, ...evil })).toBe(403);
    expect(((await (await api('/api/v1/sessions', carol)).json()) as { sessions: unknown[] }).sessions).toHaveLength(before);
  });

  it('keeps every path inside the route', async () => {
    const tricks = [
      `/s/${echo.sid}/../../api/v1/me`,
      `/s/${echo.sid}/%2e%2e/cgi-bin/env`,
      `/s/${echo.sid}/cgi-bin%2fenv`,
      `/s/${echo.sid}/cgi-bin%5cenv`,
      `/s/${echo.sid}/cgi-bin/%2e%2e%2f%2e%2e%2fetc/passwd`,
      `/s/${echo.sid.toUpperCase()}/cgi-bin/env`,
      `/s/${echo.sid}x/cgi-bin/env`,
      `/s/${echo.sid}/${'a/'.repeat(3000)}`,
    ];
    for (const trick of tricks) {
      // fetch would normalise dots away; a raw request sends the path as written.
      const status = await rawGet(trick, carol.cookie ?? '');
      expect([trick.slice(0, 60), [400, 404, 414, 431].includes(status)]).toEqual([trick.slice(0, 60), true]);
    }
  });

  it('answers bad bodies with a 4xx JSON error and creates nothing', async () => {
    const cases: Array<[string, string | undefined, number, string]> = [
      ['not json', 'application/json', 400, 'invalid_json'],
      [JSON.stringify({ type: 'echo', owner: 'dave' }), 'application/json', 400, 'validation_failed'],
      [JSON.stringify({ type: 'nosuch' }), 'application/json', 400, 'validation_failed'],
      [JSON.stringify({ type: 'echo', limits: { memoryMiB: 1e9 } }), 'application/json', 400, 'validation_failed'],
      [JSON.stringify({ type: 'echo', pad: 'x'.repeat(200_000) }), 'application/json', 413, 'payload_too_large'],
      ['type=echo', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
    ];
    for (const [body, type, status, code] of cases) {
      const res = await fetch(`${GW}/api/v1/sessions`, { method: 'POST', headers: { ...dave, ...ORIGIN, ...(type ? { 'content-type': type } : {}) }, body });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([status, code]);
    }
    expect(await (await api('/api/v1/sessions', dave)).json()).toEqual({ sessions: [] });
  });

  it('rate limits sign-in attempts and refuses a wrong key', async () => {
    // From an address of its own on the loopback network, so that no other sign-in counts against it.
    const localAddress = `127.0.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    const body = JSON.stringify({ username: 'eve', key: 'wrong-key-0123456789' });
    const attempt = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: GW_PORT, localAddress, method: 'POST', path: '/auth/login', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push(await attempt());
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
  });

});

describe("VISP's app host: all of app.<host> is the session its SessionAccessCode names", () => {
  const [SITE, APP] = ['visp.test', 'app.visp.test'];
  const appOrigin = { origin: `http://${APP}` };
  // What a browser sends to the app host (the app hosts' cookie only), and to the site (the gateway's cookie too).
  let gina: Record<string, string>;
  let dave: Record<string, string>;
  let ginaSite: Record<string, string>;
  let daveSite: Record<string, string>;
  let jupyter: SessionView;
  let echo: SessionView;
  beforeAll(async () => {
    await startGateway(APP_PORT, { APP_HOSTS: APP, COOKIE_DOMAIN: SITE, VISP_WEBCLIENT: 'true' });
    const signIn = async (username: string) => {
      const res = await on(SITE, '/auth/login', { method: 'POST', headers: { origin: `http://${SITE}`, 'content-type': 'application/json' }, body: JSON.stringify({ username, key: TEST_SECRETS.TEST_USER_LOGIN_KEY }) });
      // The gateway's cookie stays host-only; the app hosts get one of their own for the domain; the domain-wide
      // gateway cookie of before is removed (first: on plain HTTP it has the same name).
      const cookies = res.headers['set-cookie'] ?? [];
      expect(cookies).toEqual([
        'visp_login=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Domain=visp.test',
        expect.stringMatching(/^visp_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/),
        expect.stringMatching(/^visp_app_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Domain=visp\.test$/),
      ]);
      const [login, app] = [cookies[1], cookies[2]].map((cookie) => cookie?.split(';')[0] ?? '');
      return { app: { cookie: `${app}` }, site: { cookie: `${login}; ${app}` } };
    };
    const [g, d] = [await signIn('gina'), await signIn('dave')];
    [gina, dave, ginaSite, daveSite] = [g.app, d.app, g.site, d.site];
    [jupyter, echo] = [(await launchSession(ginaSite, 'jupyter')).session, (await launchSession(ginaSite, 'echo')).session];
  }, 180_000);
  afterAll(async () => {
    for (const s of [jupyter, echo]) if (s) await api(`/api/v1/sessions/${s.sid}`, ginaSite, { method: 'DELETE' });
  });
  const withCode = (auth: Record<string, string>, sid: string) => ({ cookie: `${auth.cookie}; SessionAccessCode=${sid}` });

  it('opens the session at ?token=, keeps it in a cookie, and runs code on its kernel over the WebSocket', async () => {
    const entered = await on(APP, `/?token=${jupyter.sid}`, { headers: gina });
    expect([entered.status, entered.headers.location, entered.headers['set-cookie']]).toEqual([303, '/', [`SessionAccessCode=${jupyter.sid}; Path=/; HttpOnly; SameSite=Lax`]]);
    const headers = { ...withCode(gina, jupyter.sid), ...appOrigin };
    const status = await on(APP, '/api/status', { headers });
    expect([status.status, JSON.parse(status.body)]).toEqual([200, expect.objectContaining({ kernels: expect.any(Number) })]);
    const kernel = await on(APP, '/api/kernels', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"name":"python3"}' });
    expect(kernel.status).toBe(201);
    const { id } = JSON.parse(kernel.body) as { id: string };
    const ws = await openKernel(`ws://127.0.0.1:${APP_PORT}/api/kernels/${id}/channels`, { ...headers, host: APP });
    try {
      expect(await execute(ws, '6*7')).toBe('42');
    } finally {
      ws.close();
    }
  }, 60_000);

  it("hands the app neither the gateway's cookies nor ?token=, and the rest of the request as it was", async () => {
    const env = (await on(APP, '/cgi-bin/env?a=1&token=' + echo.sid + '&b=2', { method: 'POST', headers: { ...gina, cookie: `${gina.cookie}; theme=dark`, ...appOrigin } })).body;
    expect(env).toMatch(/^QUERY_STRING=a=1&b=2$/m);
    expect(env).toMatch(/^HTTP_COOKIE=theme=dark$/m);
    expect(env).toMatch(/^HTTP_AUTHORIZATION=token \S{16,}$/m);
    expect((await on(APP, '/cgi-bin/env', { headers: withCode(gina, echo.sid) })).body).toMatch(/^REQUEST_URI=\/cgi-bin\/env$/m);
  });

  it('is a 404 at once for no code, an unknown one, or another user’s, over HTTP and WebSocket; 401 signed out', async () => {
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/', gina, 404],
      ['/?token=zzzzzzzzzzzz', gina, 404],
      ['/?token=..%2Fapi%2Fv1%2Fme', gina, 404],
      [`/?token=${jupyter.sid}`, dave, 404],
      ['/api/status', withCode(dave, jupyter.sid), 404],
      ['/api/status', { cookie: `SessionAccessCode=${jupyter.sid}` }, 401],
    ];
    for (const [path, headers, status] of cases) expect([path, (await on(APP, path, { headers })).status]).toEqual([path, status]);
    // `/` on the app host is the session's, not the webclient socket that `/` is on the site.
    expect(await upgrade(`ws://127.0.0.1:${APP_PORT}/`, { ...gina, ...appOrigin, host: APP })).toBe(404);
    expect(await upgrade(`ws://127.0.0.1:${APP_PORT}/`, { ...ginaSite, origin: `http://${SITE}`, host: SITE })).toBe(101);
    expect(await upgrade(`ws://127.0.0.1:${APP_PORT}/api/kernels`, { ...withCode(dave, jupyter.sid), ...appOrigin, host: APP })).toBe(404);
    expect((await on(APP, '/api/kernels', { method: 'POST', headers: { ...withCode(gina, jupyter.sid), origin: 'https://evil.example' } })).status).toBe(403);
  });

  it("signs in on each host with its own cookie only: the site not with the app hosts' (any subdomain, a session's host too, can set one), neither with one sent twice", async () => {
    const me = async (headers: Record<string, string>) => (await on(SITE, '/api/v1/me', { headers })).status;
    expect([await me(ginaSite), await me(gina)]).toEqual([200, 401]);
    // A session's script plants its author's login for the domain and a longer path: the browser sends it first.
    const loginOf = (site: Record<string, string>) => site.cookie?.split('; ')[0] ?? '';
    const [ginaLogin, daveLogin] = [loginOf(ginaSite), loginOf(daveSite)];
    expect(await me({ cookie: `${daveLogin}; ${ginaLogin}` })).toBe(401);
    const status = async (cookie: string, extra: Record<string, string> = {}) => (await on(APP, '/api/status', { headers: { cookie: `${cookie}; SessionAccessCode=${jupyter.sid}`, ...extra } })).status;
    expect([await status(gina.cookie ?? ''), await status(`${dave.cookie}; ${gina.cookie}`), await status(ginaLogin)]).toEqual([200, 401, 401]);
    // Each value is signed for its own host: the app hosts' (which every host of the domain sees) is no gateway
    // cookie, and the gateway's no app hosts' one.
    expect(await me({ cookie: (gina.cookie ?? '').replace('visp_app_login=', 'visp_login=') })).toBe(401);
    expect(await status(ginaLogin.replace('visp_login=', 'visp_app_login='))).toBe(401);
    // A script of another host of the site (a session's) cannot use the app host's cookie; VISP's iframe (a navigation) can.
    expect(await status(gina.cookie ?? '', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors' })).toBe(403);
    expect(await status(gina.cookie ?? '', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' })).toBe(200);
  });

  it("lets a session set its own cookies only: host-only, never the gateway's, the app hosts' or SessionAccessCode", async () => {
    // The session's app answers with what mallory would plant: the viewer's app-host sign-in replaced with hers,
    // the session picked for a path, the gateway's cookie, a nameless one; and a cookie of its own for the domain.
    const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
    const planted = ['visp_app_login=mallory; Domain=visp.test; Path=/; HttpOnly', `SessionAccessCode=${echo.sid}; Path=/lab`, 'VISP_LOGIN=mallory', '=visp_entry=x', 'theme=dark; Domain=visp.test; Path=/'];
    const script = `#!/bin/sh\n${planted.map((c) => `printf 'Set-Cookie: ${c}\\r\\n'`).join('\n')}\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n`;
    const wrote = await podman.exec(`visp-session-echo-${echo.sid}`, ['sh', '-c', `printf '%s' "$0" > www/cgi-bin/cookies && chmod +x www/cgi-bin/cookies`, script]);
    expect(wrote.exitCode).toBe(0);
    for (const [host, path, headers] of [[APP, '/cgi-bin/cookies', withCode(gina, echo.sid)], [SITE, `/s/${echo.sid}/cgi-bin/cookies`, ginaSite]] as const) {
      const res = await on(host, path, { headers });
      expect([host, res.status, res.body, res.headers['set-cookie']]).toEqual([host, 200, 'ok', ['theme=dark; Path=/']]);
    }
  });

  it('never sends the browser to another site', async () => {
    const entered = await on(APP, `//evil.example/?token=${echo.sid}`, { headers: gina });
    expect([entered.status, entered.headers.location]).toEqual([303, '/evil.example/']);
  });
});

/** A request to the app host gateway as if it were `host` (both names point at it in production). */
function on(host: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: APP_PORT, method: init.method ?? 'GET', path, headers: { ...init.headers, host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('single sign-on headers', () => {
  it('are believed only from a trusted proxy, and only with the SP’s secret', async () => {
    const secret = 'e2e-sso-proxy-secret-0123456789';
    await startGateway(18181, { AUTH_MODE: 'shibboleth', SSO_PROXY_SECRET: secret, TRUSTED_PROXY_CIDRS: '10.0.0.0/8' });
    await startGateway(18182, { AUTH_MODE: 'shibboleth', SSO_PROXY_SECRET: secret, TRUSTED_PROXY_CIDRS: '127.0.0.1/32', ADMIN_USERS: 'frida@uni.se' });
    const identity = { eppn: 'frida@uni.se', mail: 'frida@uni.se', displayName: 'Frida' };
    const vouched = { ...identity, 'visp-sso-secret': secret };

    // The secret from an address that is not trusted: refused.
    const spoofed = await fetch('http://127.0.0.1:18181/auth/sso', { headers: vouched, redirect: 'manual' });
    expect(spoofed.status).toBe(401);
    expect(spoofed.headers.get('set-cookie')).toBeNull();
    expect((await fetch('http://127.0.0.1:18181/api/v1/me', { headers: identity })).status).toBe(401);
    expect((await fetch('http://127.0.0.1:18181/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);

    // A trusted address without the secret (an edge that passed a client's headers on): refused.
    const unvouched = await fetch('http://127.0.0.1:18182/auth/sso', { headers: identity, redirect: 'manual' });
    expect([unvouched.status, unvouched.headers.get('set-cookie')]).toEqual([401, null]);

    const trusted = await fetch('http://127.0.0.1:18182/auth/sso', { headers: vouched, redirect: 'manual' });
    expect([trusted.status, trusted.headers.get('location')]).toEqual([303, '/']);
    const cookie = (trusted.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(await (await fetch('http://127.0.0.1:18182/api/v1/me', { headers: { cookie } })).json()).toMatchObject({ username: 'frida@uni.se', admin: true, displayName: 'Frida' });
  }, 60_000);

  it('a gateway in shibboleth mode without the SP’s secret refuses to start, saying so', async () => {
    const gateway = launch('gateway', { ...stack.env(), PORT: '18183', AUTH_MODE: 'shibboleth' });
    expect(await gateway.exited).toBe(2);
    expect(gateway.output()).toContain('gateway: config error: SSO_PROXY_SECRET must be set in AUTH_MODE=shibboleth');
  });
});

describe('behind a front proxy', () => {
  it('keeps the readiness report and metrics from the clients it forwards', async () => {
    await startGateway(18184, { TRUSTED_PROXY_CIDRS: '127.0.0.1/32' });
    const gateway = 'http://127.0.0.1:18184';
    const forwarded = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };
    const status = async (path: string, headers: Record<string, string> = {}) => (await fetch(`${gateway}${path}`, { headers })).status;
    expect([await status('/readyz', forwarded), await status('/metrics', forwarded), await status('/healthz', forwarded)]).toEqual([404, 404, 200]);
    expect([await status('/readyz'), await status('/metrics')]).toEqual([200, 200]); // the host's own checks
  }, 60_000);
});

async function rawGet(rawPath: string, cookie: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: GW_PORT, path: rawPath, headers: { cookie } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}
