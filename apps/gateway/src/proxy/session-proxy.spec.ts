import { cookieReaches, setCookie, withoutCookies } from '../auth/cookies';
import { readAppHostRequest, safeAppPath } from './session-proxy';

const SID = 'abcdefgh2345';

describe('an app host request', () => {
  it('takes the session from ?token= first, drops that parameter and keeps the rest as written', () => {
    expect(readAppHostRequest(`/lab/tree?x=a%20b&token=${SID}&y=1`, `SessionAccessCode=zzzzzzzzzzzz`)).toEqual({
      sessionUrl: `/s/${SID}/lab/tree?x=a%20b&y=1`,
      redirectTo: '/lab/tree?x=a%20b&y=1',
    });
    expect(readAppHostRequest(`/?token=${SID}`, undefined)).toEqual({ sessionUrl: `/s/${SID}/`, redirectTo: '/' });
  });

  it('otherwise from the SessionAccessCode cookie', () => {
    expect(readAppHostRequest('/api/status', `theme=dark; SessionAccessCode=${SID}`)).toEqual({ sessionUrl: `/s/${SID}/api/status` });
  });

  it("leaves a path that is already the session's (a base-URL-aware app's own links) as it is", () => {
    expect(readAppHostRequest(`/s/${SID}/static/app.js?v=1`, `SessionAccessCode=${SID}`)?.sessionUrl).toBe(`/s/${SID}/static/app.js?v=1`);
    expect(readAppHostRequest(`/s/${SID}`, `SessionAccessCode=${SID}`)?.sessionUrl).toBe(`/s/${SID}`);
    // Another session's prefix is just a path inside this one.
    expect(readAppHostRequest('/s/zzzzzzzzzzzz/x', `SessionAccessCode=${SID}`)?.sessionUrl).toBe(`/s/${SID}/s/zzzzzzzzzzzz/x`);
  });

  it('names no session without a code, with a malformed token, or for an absolute URL', () => {
    expect(readAppHostRequest('/lab', undefined)).toBeUndefined();
    expect(readAppHostRequest('/lab?token=', 'SessionAccessCode=')).toBeUndefined();
    expect(readAppHostRequest('/lab?token=%E0%A4%A', undefined)).toBeUndefined();
    expect(readAppHostRequest(`http://app.example/?token=${SID}`, undefined)).toBeUndefined();
  });

  it('never redirects off the host: leading slashes collapse', () => {
    expect(readAppHostRequest(`//evil.example/x?token=${SID}`, undefined)?.redirectTo).toBe('/evil.example/x');
  });

  it('carries a code that is not a session id into a URL the proxy then refuses', () => {
    const read = readAppHostRequest('/?token=..%2F..%2Fapi', undefined);
    expect(read?.sessionUrl).toBe('/s/../../api/');
    expect(/^\/s\/[a-z2-7]{12}(\/|$)/.test(read?.sessionUrl ?? '')).toBe(false);
  });
});

describe('a path below a session', () => {
  it('is safe unless a segment, decoded, is a dot segment or hides a slash', () => {
    const safe = ['/', '/lab/tree', '/a%20b', '/files/x.ipynb', '/.jupyter/x', '/a..b/', '/.../', '/a%20b/.x'];
    const unsafe = ['/..', '/.', '/a/./b', '/a/../b', '/a/..', '/a\\b', '/a/%2e%2e/b', '/a%2fb', '/a%5cb', '/%E0%A4%A', '/a%20b/../c'];
    expect(safe.filter((path) => !safeAppPath(path))).toEqual([]);
    expect(unsafe.filter((path) => safeAppPath(path))).toEqual([]);
  });
});

describe("the gateway's cookies", () => {
  it('are removed from what a session gets, whatever else is there', () => {
    expect(withoutCookies(`visp_login=abc.def; theme=dark; SessionAccessCode=${SID}; _xsrf=1`, ['visp_login', 'SessionAccessCode'])).toBe('theme=dark; _xsrf=1');
    expect(withoutCookies('visp_login=abc', ['visp_login'])).toBeUndefined();
    expect(withoutCookies(undefined, ['visp_login'])).toBeUndefined();
  });

  it('are HttpOnly and SameSite=Lax, with a Domain and Secure when asked', () => {
    expect(setCookie('a', 'b', { secure: false })).toBe('a=b; Path=/; HttpOnly; SameSite=Lax');
    expect(setCookie('a', '', { maxAgeSeconds: 0, secure: true, domain: 'visp.example' })).toBe('a=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Domain=visp.example; Secure');
  });

  it('reach a host only when it is the Domain or below it', () => {
    expect(cookieReaches('visp.example', 'app.visp.example')).toBe(true);
    expect(cookieReaches('visp.example', 'visp.example')).toBe(true);
    expect(cookieReaches('visp.example', 'evilvisp.example')).toBe(false);
    expect(cookieReaches(undefined, 'app.visp.example')).toBe(false);
  });
});
