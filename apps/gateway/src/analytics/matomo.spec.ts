import { ConfigError, gatewayConfig } from '@visp/config';
import { matomoSettingsProblem } from './analytics';
import { matomoFile, REPORTER_USER_AGENT, trackingParameters, visitorId, type ProductEvent } from './matomo';

const KEY = 'a-cookie-secret-of-at-least-32-characters';
const site = { siteId: 7, visitorKey: KEY, userIds: false };
const launched: ProductEvent = { category: 'session', action: 'launched', name: 'jupyter', username: 'alice@example.org' };

/**
 * The parameters of Matomo's Tracking HTTP API reference (developer.matomo.org/api-reference/tracking-api) that an
 * event may carry, written out here apart from the code under test: required, recommended, user info, events,
 * and the "other parameters" (`send_image`).
 */
const DOCUMENTED = new Set(['idsite', 'rec', 'action_name', 'url', '_id', 'rand', 'apiv', 'urlref', 'res', 'cookie', 'ua', 'lang', 'uid', 'cid', 'new_visit', 'e_c', 'e_a', 'e_n', 'e_v', 'send_image']);

describe('trackingParameters', () => {
  it('sends an event with the required and recommended parameters, and nothing Matomo does not document', () => {
    const params = trackingParameters(site, launched, 'r4nd');
    expect(Object.fromEntries(params)).toEqual({
      idsite: '7',
      rec: '1',
      apiv: '1',
      rand: 'r4nd',
      _id: visitorId(KEY, 'alice@example.org'),
      cid: visitorId(KEY, 'alice@example.org'),
      ua: REPORTER_USER_AGENT,
      e_c: 'session',
      e_a: 'launched',
      e_n: 'jupyter',
      send_image: '0',
    });
    for (const name of params.keys()) expect(DOCUMENTED).toContain(name);
  });

  it('names the user nowhere unless the operator opted into User IDs, and then only as uid', () => {
    const body = trackingParameters(site, launched).toString();
    expect(body).not.toContain('alice');
    expect(new URLSearchParams(body).has('uid')).toBe(false);
    const optedIn = trackingParameters({ ...site, userIds: true }, launched);
    expect(optedIn.get('uid')).toBe('alice@example.org');
    expect([...optedIn.entries()].filter(([, value]) => value.includes('alice')).map(([name]) => name)).toEqual(['uid']);
  });

  it('leaves out an empty name and value, and rounds a value to a whole number', () => {
    const params = trackingParameters(site, { category: 'transcription', action: 'completed', name: undefined, value: 12.6, username: 'bob' });
    expect(params.has('e_n')).toBe(false);
    expect(params.get('e_v')).toBe('13');
    expect(trackingParameters(site, { ...launched, value: Number.NaN }).has('e_v')).toBe(false);
  });

  it('draws a new random value for every request', () => {
    expect(trackingParameters(site, launched).get('rand')).not.toBe(trackingParameters(site, launched).get('rand'));
  });
});

describe('visitorId', () => {
  it('is 16 hex characters, the same for the same user, different between users and keys', () => {
    const id = visitorId(KEY, 'alice');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(visitorId(KEY, 'alice')).toBe(id);
    expect(visitorId(KEY, 'alicf')).not.toBe(id);
    expect(visitorId(`${KEY}-rotated`, 'alice')).not.toBe(id);
  });
});

describe('matomoFile', () => {
  it.each([
    ['https://stats.example.org', 'https://stats.example.org/matomo.php'],
    ['https://stats.example.org/', 'https://stats.example.org/matomo.php'],
    ['https://example.org/matomo', 'https://example.org/matomo/matomo.php'],
    ['https://example.org/matomo/?x=1#y', 'https://example.org/matomo/matomo.php'],
  ])('%s → %s', (base, expected) => expect(matomoFile(base, 'matomo.php').href).toBe(expected));
});

describe('Matomo settings', () => {
  const base = { SERVICE_TOKEN: 'a-service-token-0123456789', COOKIE_SECRET: KEY };

  it('are off by default, and empty values count as unset', () => {
    const config = gatewayConfig.parse({ ...base, MATOMO_URL: '', MATOMO_SITE_ID: '' });
    expect([config.MATOMO_URL, config.MATOMO_SITE_ID, config.MATOMO_COOKIES, config.MATOMO_USER_IDS]).toEqual([undefined, undefined, false, false]);
    expect(matomoSettingsProblem(config)).toBeUndefined();
  });

  it('take an http(s) URL and a positive site id', () => {
    const config = gatewayConfig.parse({ ...base, MATOMO_URL: 'https://stats.example.org/', MATOMO_SITE_ID: '3', MATOMO_USER_IDS: 'true' });
    expect([config.MATOMO_URL, config.MATOMO_SITE_ID, config.MATOMO_USER_IDS]).toEqual(['https://stats.example.org/', 3, true]);
    expect(matomoSettingsProblem(config)).toBeUndefined();
    expect(() => gatewayConfig.parse({ ...base, MATOMO_URL: 'ftp://stats.example.org' })).toThrow(ConfigError);
    expect(() => gatewayConfig.parse({ ...base, MATOMO_SITE_ID: '0' })).toThrow(/MATOMO_SITE_ID/);
  });

  it('are refused with only one of URL and site id', () => {
    expect(matomoSettingsProblem({ MATOMO_URL: 'https://stats.example.org' })).toMatch(/MATOMO_URL and MATOMO_SITE_ID/);
    expect(matomoSettingsProblem({ MATOMO_SITE_ID: 3 })).toMatch(/MATOMO_URL and MATOMO_SITE_ID/);
  });

  it('are refused with a plain-http URL, but for loopback hosts (a stand-in Matomo in tests)', () => {
    for (const url of ['http://stats.example.org', 'http://stats.example.org/matomo/', 'http://10.0.0.5:8080/', 'http://127.0.0.1.example.org/', 'http://localhost.example.org/']) {
      expect(matomoSettingsProblem({ MATOMO_URL: url, MATOMO_SITE_ID: 3 })).toMatch(/MATOMO_URL must be https/);
    }
    for (const url of ['https://stats.example.org', 'https://localhost/', 'http://127.0.0.1:8080/', 'http://[::1]:8080/matomo/', 'http://localhost:8080', 'http://LOCALHOST/']) {
      expect(matomoSettingsProblem({ MATOMO_URL: url, MATOMO_SITE_ID: 3 })).toBeUndefined();
    }
    const config = gatewayConfig.parse({ ...base, MATOMO_URL: 'http://stats.example.org/', MATOMO_SITE_ID: '3' });
    expect(matomoSettingsProblem(config)).toMatch(/MATOMO_URL must be https/);
  });
});
