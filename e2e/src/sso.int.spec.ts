// Single sign-on through the real chain: Caddy with the Caddyfile `visp install` writes → the Shibboleth SP
// container (quadlets/visp-sp.container) → the gateway, against a real SAML IdP (SimpleSAMLphp). A user signs in
// with the SAML redirect dance and lands signed in with the assertion's eppn, name and mail; then every way of
// forging an identity through the edge, or straight to the gateway from a trusted address, signs nobody in.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useGatewayStack } from './gateway-stack';
import { loopbackRequest, type LoopbackResponse } from './loopback-http';
import { samlSignIn, CookieJar } from './saml-client';
import { IDP_USER, startSamlRig, type SamlRig } from './saml-rig';

const PORTS = { edge: 18701, sp: 18702, idp: 18703, gateway: 18780 };
const SECRET = randomBytes(24).toString('base64url');
const BOSS = 'boss@visp.localhost';
useGatewayStack({ sessionManager: 18720, gateway: PORTS.gateway }, 'sso', {
  AUTH_MODE: 'shibboleth',
  SSO_PROXY_SECRET: SECRET,
  ADMIN_USERS: BOSS,
  // The edge and the SP are both on loopback here, as Caddy and the SP share visp-net in production: a trusted
  // address, which must not be enough on its own.
  TRUSTED_PROXY_CIDRS: '127.0.0.1/32',
});

let rig: SamlRig;
beforeAll(async () => {
  rig = await startSamlRig(PORTS, { secret: SECRET });
}, 120_000);
afterAll(() => rig?.stop());

const loginCookie = (res: LoopbackResponse) => (res.headers['set-cookie'] ?? []).map((c) => /^visp_login=([^;]+)/.exec(c)?.[1]).find(Boolean);

/** Who a login cookie signs in as, asked through the edge; undefined when nobody. */
async function whoIs(cookie: string | undefined): Promise<{ username: string; admin: boolean; displayName?: string; email?: string } | undefined> {
  if (!cookie) return undefined;
  const res = await loopbackRequest(`${rig.site}/api/v1/me`, { headers: [['Cookie', `visp_login=${cookie}`]] });
  return res.status === 200 ? (JSON.parse(res.body) as { username: string; admin: boolean }) : undefined;
}

describe('single sign-on through Caddy, the Shibboleth SP and a SAML IdP', () => {
  it('signs a user in with the SAML redirect dance: eppn, name and mail from the assertion; not an admin', async () => {
    const { final, trail } = await samlSignIn(`${rig.site}/Shibboleth.sso/Login?target=/auth/sso`, IDP_USER);
    expect([final.status, final.headers.location, trail.some((step) => step.includes('/simplesaml/'))]).toEqual([303, '/', true]);
    expect(await whoIs(loginCookie(final))).toMatchObject({ username: IDP_USER.eppn, displayName: IDP_USER.displayName, email: IDP_USER.mail, admin: false });
  });

  it('the page’s own SSO link is the SP’s login, through the edge', async () => {
    const res = await loopbackRequest(`${rig.site}/auth/config`);
    expect(JSON.parse(res.body)).toEqual({ mode: 'shibboleth', ssoUrl: '/Shibboleth.sso/Login?target=/auth/sso' });
  });

  // Header names as a client may spell them: the gateway's own (any case), look-alikes that CGI-style software reads
  // as the same name, the SP's secret (even its real value), and the other attributes.
  const FORGED: Array<Array<[string, string]>> = [
    [['eppn', BOSS]],
    [['EPPN', BOSS]],
    [['Eppn', BOSS]],
    [['eppn', BOSS], ['eppn', BOSS]],
    [['eppn', IDP_USER.eppn], ['eppn', BOSS]],
    [['eppn_', BOSS]],
    [['HTTP_EPPN', BOSS]],
    [['e-ppn', BOSS]],
    [['REMOTE_USER', BOSS], ['Remote-User', BOSS]],
    [['eppn', BOSS], ['Visp-Sso-Secret', SECRET]],
    [['eppn', BOSS], ['VISP-SSO-SECRET', SECRET], ['mail', BOSS], ['displayName', 'Boss']],
    [['eppn', BOSS], ['Visp_Sso_Secret', SECRET]],
  ];
  const PATHS = ['/auth/sso', '/AUTH/SSO', '/Auth/Sso', '/auth/sso/', '/auth//sso', '//auth/sso', '/auth/%73so', '/auth/sso?x=1', '/./auth/sso', '/auth/sso;x'];

  it('through the edge without an SP session: no forged header on any spelling of the path signs anyone in', async () => {
    const outcomes: string[] = [];
    for (const headers of FORGED) {
      for (const path of PATHS) {
        const res = await loopbackRequest(`${rig.site}/`, { path, headers });
        const who = await whoIs(loginCookie(res));
        if (who) outcomes.push(`${path} ${JSON.stringify(headers)} → signed in as ${who.username}`);
      }
    }
    expect(outcomes).toEqual([]);
  });

  it('through the edge with a real SP session: forged headers never change who is signed in, nor make an admin', async () => {
    const jar = new CookieJar();
    await samlSignIn(`${rig.site}/Shibboleth.sso/Login?target=/auth/sso`, IDP_USER, { jar });
    const seen = new Set<string>();
    for (const headers of FORGED) {
      for (const path of ['/auth/sso', '/AUTH/SSO', '/auth/sso/']) {
        const res = await loopbackRequest(`${rig.site}/`, { path, headers: [...jar.header(rig.siteHost), ...headers] });
        const who = await whoIs(loginCookie(res));
        if (who) seen.add(`${who.username} admin=${who.admin}`);
      }
    }
    // The SP session signs the student in on the plain path (and only as the student).
    expect([...seen]).toEqual([`${IDP_USER.eppn} admin=false`]);
  });

  it('straight to the gateway from a trusted address: identity headers count only with the SP’s secret', async () => {
    const gateway = `http://127.0.0.1:${PORTS.gateway}/auth/sso`;
    const attempts: Array<Array<[string, string]>> = [
      [['eppn', BOSS]],
      [['eppn', BOSS], ['Visp-Sso-Secret', 'guess-guess-guess-guess-guess']],
      [['eppn', BOSS], ['Visp-Sso-Secret', `${SECRET}x`]],
      [['eppn', BOSS], ['Visp-Sso-Secret', SECRET.slice(0, -1)]],
      [['eppn', BOSS], ['Visp-Sso-Secret', SECRET], ['Visp-Sso-Secret', SECRET]],
      [['eppn', BOSS], ['eppn', IDP_USER.eppn], ['Visp-Sso-Secret', SECRET]],
      [['eppn', `${BOSS}, ${IDP_USER.eppn}`], ['Visp-Sso-Secret', SECRET]],
    ];
    const results = [];
    for (const headers of attempts) {
      const res = await loopbackRequest(gateway, { headers });
      results.push([res.status, await whoIs(loginCookie(res))]);
    }
    expect(results).toEqual(attempts.map(() => [401, undefined]));
    // With the secret, from a trusted address, it is a sign-in: the secret is what the gateway believes.
    const vouched = await loopbackRequest(gateway, { headers: [['eppn', BOSS], ['Visp-Sso-Secret', SECRET]] });
    expect(await whoIs(loginCookie(vouched))).toMatchObject({ username: BOSS, admin: true });
  });

  it('through the edge, a client’s X-Forwarded-Proto does not make the gateway think the client used HTTPS', async () => {
    const { final } = await samlSignIn(`${rig.site}/Shibboleth.sso/Login?target=/auth/sso`, IDP_USER, {
      extraHeaders: [['X-Forwarded-Proto', 'https'], ['Forwarded', 'proto=https'], ['X-Forwarded-For', '203.0.113.9']],
    });
    const cookie = (final.headers['set-cookie'] ?? []).find((c) => c.startsWith('visp_login='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).not.toMatch(/Secure/);
  });

  it('the SP keeps its secret out of every process’s environment and out of its Status page through the edge', async () => {
    // Every process of the container (Apache's parent and workers, shibd) by its /proc environment.
    expect(rig.execInSp(`grep -l -F -e '${SECRET}' /proc/[0-9]*/environ 2>/dev/null; true`)).toBe('');
    expect(rig.execInSp('ls /proc | grep -c "^[0-9]"').trim()).not.toBe('0');
    const status = await loopbackRequest(`${rig.site}/Shibboleth.sso/Status`);
    expect(status.body).not.toContain(SECRET);
  });

  it('visp doctor checks the SP files as installed: they parse (shibd -t in the SP image) and the entity id is the site’s', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'visp-doctor-site-'));
    const config = path.join(home, '.config/visp');
    mkdirSync(config, { recursive: true });
    cpSync(rig.operatorDir, path.join(config, 'shibboleth'), { recursive: true });
    writeFileSync(path.join(config, 'visp.env'), 'AUTH_MODE=shibboleth\n');
    const doctor = (site: string) => {
      writeFileSync(path.join(config, 'sp.env'), `VISP_PUBLIC_URL=${site}\n`);
      const { CONTAINER_HOST: _remote, ...env } = process.env;
      const ran = spawnSync(process.execPath, [path.resolve(__dirname, '../../dist/tools/visp.js'), 'doctor', '--json'], { encoding: 'utf8', env: { ...env, HOME: home } });
      const checks = JSON.parse(ran.stdout) as Array<{ name: string; ok: boolean; detail: string }>;
      return checks.filter((c) => c.name.startsWith('shibboleth')).map((c) => `${c.name}: ${c.ok ? 'ok' : c.detail}`);
    };
    try {
      expect(doctor(rig.site)).toEqual(['shibboleth files: ok', 'shibboleth configuration: ok', 'shibboleth entity id: ok']);
      expect(doctor('https://visp.example.org')).toEqual([
        'shibboleth files: ok',
        'shibboleth configuration: ok',
        "shibboleth entity id: the SP's entityID https://visp.localhost/shibboleth is not on the site's domain visp.example.org",
      ]);
      const main = path.join(config, 'shibboleth/shibboleth2.xml');
      writeFileSync(main, readFileSync(main, 'utf8').replace('</SPConfig>', ''));
      expect(doctor(rig.site)[1]).toMatch(/^shibboleth configuration: shibd -t refuses it: /);
      rmSync(main);
      expect(doctor(rig.site)).toEqual([expect.stringMatching(/^shibboleth files: .*shibboleth2\.xml is missing$/)]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
