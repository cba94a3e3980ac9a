import type { Redis } from '@visp/bus';
import { appCookieName, appSetCookies, cookieName, GATEWAY_COOKIES, onlyCookie, SSO_COOKIE_PREFIXES, withoutCookies } from '../auth/cookies';
import { ENTER_PATH, fromAnotherOrigin, isNavigation, newEntryState, readEnterRequest, readSessionHostRequest, safeNext, SessionEntryCodes, sessionOfHost, strayBelowSessionsHost } from './session-host';

const SID = 'abcdefgh2345';
const OTHER = 'zzzzzzzzzzzz';

describe("a session's own host", () => {
  it('is `<sid>.<SESSIONS_HOST>` with any port, in any case', () => {
    expect(sessionOfHost(`${SID}.localhost:8080`, 'localhost')).toBe(SID);
    expect(sessionOfHost(`${SID}.visp.example.org`, 'visp.example.org')).toBe(SID);
    expect(sessionOfHost(`${SID.toUpperCase()}.Visp.Example.Org:443`, 'visp.example.org')).toBe(SID);
  });

  it('leaves other hosts below SESSIONS_HOST stray (served nothing), and the gateway itself and foreign hosts not', () => {
    const stray = (host: string) => strayBelowSessionsHost(host, 'visp.example.org');
    expect(['www.visp.example.org', `a.${SID}.visp.example.org`, `${SID}x.visp.example.org:443`, 'WWW.Visp.Example.Org'].map(stray)).toEqual([true, true, true, true]);
    expect([`${SID}.visp.example.org`, 'visp.example.org', 'evilvisp.example.org', 'localhost'].map(stray)).toEqual([false, false, false, false]);
    expect(strayBelowSessionsHost('www.visp.example.org', undefined)).toBe(false);
  });

  it('is nothing else: the gateway itself, other labels, deeper names, look-alike suffixes, or no SESSIONS_HOST', () => {
    expect(sessionOfHost('localhost:8080', 'localhost')).toBeUndefined();
    expect(sessionOfHost('visp.localhost:8080', 'localhost')).toBeUndefined();
    expect(sessionOfHost(`x.${SID}.localhost`, 'localhost')).toBeUndefined();
    expect(sessionOfHost(`${SID}x.localhost`, 'localhost')).toBeUndefined();
    expect(sessionOfHost(`${SID}.evil-localhost`, 'localhost')).toBeUndefined();
    expect(sessionOfHost(`${SID}.localhost.evil.example`, 'localhost')).toBeUndefined();
    expect(sessionOfHost(`${SID}.localhost`, undefined)).toBeUndefined();
    expect(sessionOfHost(undefined, 'localhost')).toBeUndefined();
  });

  it("serves every path as the session's, adding /s/<sid> unless the path has it (Jupyter's own links)", () => {
    expect(readSessionHostRequest('/tree?x=1', SID)).toEqual({ kind: 'app', sessionUrl: `/s/${SID}/tree?x=1` });
    expect(readSessionHostRequest(`/s/${SID}/api/kernels`, SID)).toEqual({ kind: 'app', sessionUrl: `/s/${SID}/api/kernels` });
    // The gateway's paths are the session's here: `/api/v1` on a session host is the app's, not the API.
    expect(readSessionHostRequest('/api/v1/tokens', SID)).toEqual({ kind: 'app', sessionUrl: `/s/${SID}/api/v1/tokens` });
    // Another session's prefix is a path inside this one; leading slashes collapse.
    expect(readSessionHostRequest(`/s/${OTHER}/x`, SID)).toEqual({ kind: 'app', sessionUrl: `/s/${SID}/s/${OTHER}/x` });
    expect(readSessionHostRequest('//evil.example/x', SID)).toEqual({ kind: 'app', sessionUrl: `/s/${SID}/evil.example/x` });
    expect(readSessionHostRequest('http://evil.example/', SID)).toBeUndefined();
  });

  it('takes a one-time code at /_visp/auth, with where to go next', () => {
    expect(readSessionHostRequest(`/_visp/auth?code=abc&next=${encodeURIComponent(`/s/${SID}/tree?a=1`)}`, SID)).toEqual({ kind: 'entry', code: 'abc', next: `/s/${SID}/tree?a=1` });
    expect(readSessionHostRequest('/_visp/auth?next=/x', SID)).toBeUndefined();
  });

  it('goes next only to a path on the same host', () => {
    const start = `/s/${SID}/`;
    expect(safeNext('/s/x/lab', SID)).toBe('/s/x/lab');
    for (const bad of [null, '', 'https://evil.example/', '//evil.example/', '/\\evil.example/', '/a b', '/a\nSet-Cookie: x=1', 'javascript:alert(1)', `/${'a'.repeat(5000)}`]) {
      expect(safeNext(bad, SID)).toBe(start);
    }
  });

  it("tells a browser's navigations and other origins' requests from the rest", () => {
    expect(isNavigation({ 'sec-fetch-mode': 'navigate' })).toBe(true);
    expect(isNavigation({})).toBe(true);
    expect(isNavigation({ 'sec-fetch-mode': 'cors' })).toBe(false);
    expect(fromAnotherOrigin({ 'sec-fetch-site': 'same-site' })).toBe(true);
    expect(fromAnotherOrigin({ 'sec-fetch-site': 'cross-site' })).toBe(true);
    expect(fromAnotherOrigin({ 'sec-fetch-site': 'same-origin' })).toBe(false);
    expect(fromAnotherOrigin({ 'sec-fetch-site': 'none' })).toBe(false);
    expect(fromAnotherOrigin({})).toBe(false);
  });
});

/** Redis's SET with EX and GETDEL, in memory, with a clock of its own. */
function fakeRedis() {
  const values = new Map<string, { value: string; until: number }>();
  const clock = { now: 0 };
  const redis = {
    set: async (key: string, value: string, _ex: 'EX', seconds: number) => (values.set(key, { value, until: clock.now + seconds * 1000 }), 'OK'),
    getdel: async (key: string) => {
      const entry = values.get(key);
      values.delete(key);
      return entry && entry.until > clock.now ? entry.value : null;
    },
  };
  return { redis: redis as unknown as Pick<Redis, 'set' | 'getdel'>, clock, values };
}

describe('one-time codes into a session host', () => {
  const STATE = newEntryState();

  it('give the login they were minted for, once, on that session only, in the browser holding their state', async () => {
    const { redis } = fakeRedis();
    const codes = new SessionEntryCodes(redis);
    const code = await codes.mint(SID, 'login-1', STATE);
    expect(code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await codes.redeem(code, SID, STATE)).toBe('login-1');
    expect(await codes.redeem(code, SID, STATE)).toBeUndefined();

    // Taken to another session's host, a code is spent and opens nothing.
    const another = await codes.mint(SID, 'login-1', STATE);
    expect(await codes.redeem(another, OTHER, STATE)).toBeUndefined();
    expect(await codes.redeem(another, SID, STATE)).toBeUndefined();

    // In a browser without the state (a link someone sent), or with another, neither; and it is spent.
    for (const state of [undefined, newEntryState(), '', STATE.slice(1)]) {
      const sent = await codes.mint(SID, 'login-1', STATE);
      expect(await codes.redeem(sent, SID, state)).toBeUndefined();
      expect(await codes.redeem(sent, SID, STATE)).toBeUndefined();
    }
  });

  it('expire, and only codes of their form are looked up', async () => {
    const { redis, clock } = fakeRedis();
    const codes = new SessionEntryCodes(redis, 60);
    const code = await codes.mint(SID, 'login-1', STATE);
    clock.now += 61_000;
    expect(await codes.redeem(code, SID, STATE)).toBeUndefined();
    expect(await codes.redeem('../../x', SID, STATE)).toBeUndefined();
    expect(await codes.redeem('', SID, STATE)).toBeUndefined();
  });
});

describe('a request for a code, on the gateway\'s host', () => {
  const state = 'A'.repeat(32);

  it('names a session, a state and a path into that session', () => {
    expect(readEnterRequest(`${ENTER_PATH}?sid=${SID}&state=${state}&next=${encodeURIComponent(`/s/${SID}/tree?x=1`)}`)).toEqual({ sid: SID, state, next: `/s/${SID}/tree?x=1` });
    expect(readEnterRequest(`${ENTER_PATH}?sid=${SID}&state=${state}`)).toEqual({ sid: SID, state, next: `/s/${SID}/` });
  });

  it("goes nowhere but into its own session's prefix", () => {
    for (const next of [`/s/${OTHER}/`, '//evil.example/', '/api/v1/tokens', `/s/${SID}x/`, 'https://evil.example/']) {
      expect(readEnterRequest(`${ENTER_PATH}?sid=${SID}&state=${state}&next=${encodeURIComponent(next)}`)?.next).toBe(`/s/${SID}/`);
    }
  });

  it('is not one without a well-formed session id and state, or at another path', () => {
    expect(readEnterRequest(`${ENTER_PATH}?sid=${SID}`)).toBeUndefined();
    expect(readEnterRequest(`${ENTER_PATH}?sid=${SID}&state=short`)).toBeUndefined();
    expect(readEnterRequest(`${ENTER_PATH}?sid=${SID.toUpperCase()}&state=${state}`)).toBeUndefined();
    expect(readEnterRequest(`${ENTER_PATH}x?sid=${SID}&state=${state}`)).toBeUndefined();
  });
});

describe("the gateway's cookies", () => {
  it('are __Host- prefixed under HTTPS; the app hosts’ one, which has a Domain, __Secure-', () => {
    expect(cookieName('visp_login', true)).toBe('__Host-visp_login');
    expect(cookieName('visp_login', false)).toBe('visp_login');
    expect([appCookieName(true), appCookieName(false)]).toEqual(['__Secure-visp_app_login', 'visp_app_login']);
  });

  it('never reach an app, under any of their names', () => {
    const header = `__Host-visp_login=a; visp_login=b; visp_session=c; __Host-visp_session=d; visp_app_login=e; __Secure-visp_app_login=f; visp_entry=g; theme=dark`;
    expect(withoutCookies(header, GATEWAY_COOKIES)).toBe('theme=dark');
  });

  it('count only when every copy agrees: two different ones of a name (one planted by another host of the site) are neither', () => {
    expect(onlyCookie('a=1; visp_login=mine; b=2', 'visp_login')).toBe('mine');
    expect(onlyCookie('visp_login=planted; visp_login=mine', 'visp_login')).toBeUndefined();
    expect(onlyCookie('visp_login=same; b=1; visp_login=same', 'visp_login')).toBe('same');
    expect(onlyCookie(' visp_login =planted;visp_login=mine', 'visp_login')).toBeUndefined();
    expect(onlyCookie('xvisp_login=1; visp_login_x=2', 'visp_login')).toBeUndefined();
    expect(onlyCookie(undefined, 'visp_login')).toBeUndefined();
  });

  it("nor do the Shibboleth SP's, which would sign in at /auth/sso as whoever sent them", () => {
    const header = '_shibsession_64656661756c7468=_f4567a; _shibstate_1700000000_ab12=x; _opensaml_req_ss%3Amem%3Aabc=y; theme=dark';
    expect(withoutCookies(header, GATEWAY_COOKIES, SSO_COOKIE_PREFIXES)).toBe('theme=dark');
  });
});

describe("an app's Set-Cookie", () => {
  it('reaches the browser host-only, its Domain removed', () => {
    expect(appSetCookies(['theme=dark; Path=/; Domain=visp.example.org; Secure', 'lang=sv; domain = .visp.example.org', 'a=1; DOMAIN'])).toEqual(['theme=dark; Path=/; Secure', 'lang=sv', 'a=1']);
  });

  it("never under the gateway's, SessionAccessCode's or the SP's names, whatever their case or prefix, nor nameless", () => {
    const planted = [
      '__Secure-visp_app_login=mallory; Domain=visp.example.org; Path=/; Secure; HttpOnly',
      'visp_login=mallory',
      '__HOST-VISP_SESSION=x; Path=/; Secure',
      ' Visp_Entry =x',
      'SessionAccessCode=aaaaaaaaaaaa; Path=/lab',
      '_shibsession_64656661756c74=x',
      '=__Host-visp_entry=x; Path=/',
      'visp_login',
    ];
    expect(appSetCookies([...planted, 'jupyter_xsrf=ok; Path=/'])).toEqual(['jupyter_xsrf=ok; Path=/']);
  });
});
