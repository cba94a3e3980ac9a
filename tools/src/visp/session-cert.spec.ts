// The wildcard certificate check against certificates openssl makes here: the one thing install and doctor trust.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sessionsOriginChecks } from './doctor-site';
import { checkSessionsCert, renewSoon, SESSIONS_CERT, SESSIONS_KEY, tlsDir } from './session-cert';

const dir = mkdtempSync(path.join(tmpdir(), 'visp-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed EC certificate for `names`, valid `days` from now; its PEM and key. */
function makeCert(names: string[], days = 30): { cert: Buffer; key: Buffer } {
  const [cert, key] = [path.join(dir, `${names.join('+')}-${days}.crt`), path.join(dir, `${names.join('+')}-${days}.key`)];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', '/CN=visp-test', '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

describe('checkSessionsCert', () => {
  const wildcard = makeCert(['*.visp.example.org', 'visp.example.org']);

  it('takes a wildcard for the domain with its own key, and says when it expires', () => {
    const verdict = checkSessionsCert(wildcard.cert, wildcard.key, 'visp.example.org');
    expect(verdict).toEqual({ ok: true, detail: expect.stringMatching(/^\*\.visp\.example\.org, expires \d{4}-\d\d-\d\d \(in 29 days\)$/), expiresInDays: 29 });
    expect(renewSoon(verdict)).toBe(false);
    expect(renewSoon(checkSessionsCert(wildcard.cert, wildcard.key, 'visp.example.org', new Date(Date.now() + 20 * 86_400_000)))).toBe(true);
  });

  it('refuses what a browser would refuse for <sid>.<domain>, or what Caddy could not serve', () => {
    const refused = (cert: Buffer, key: Buffer, domain = 'visp.example.org', now?: Date) => checkSessionsCert(cert, key, domain, now);
    // Only the apex; a wildcard one level too deep or for another domain; a wildcard whose suffix merely ends alike.
    expect(refused(makeCert(['visp.example.org']).cert, wildcard.key)).toEqual({ ok: false, detail: 'the certificate names visp.example.org, not *.visp.example.org' });
    const deep = makeCert(['*.a.visp.example.org']);
    expect(refused(deep.cert, deep.key).ok).toBe(false);
    const alike = makeCert(['*.evilvisp.example.org']);
    expect(refused(alike.cert, alike.key, 'visp.example.org').ok).toBe(false);
    expect(refused(wildcard.cert, wildcard.key, 'example.org').ok).toBe(false); // *.visp.example.org is not *.example.org
    // Another certificate's key, not PEM at all, expired (or not yet valid).
    expect(refused(wildcard.cert, makeCert(['*.visp.example.org']).key)).toEqual({ ok: false, detail: 'the key is not the certificate’s' });
    expect(refused(Buffer.from('hello'), wildcard.key)).toEqual({ ok: false, detail: 'the certificate is not PEM X.509' });
    expect(refused(wildcard.cert, Buffer.from('hello'))).toEqual({ ok: false, detail: 'the key is not a PEM private key' });
    expect(refused(wildcard.cert, wildcard.key, 'visp.example.org', new Date(Date.now() + 40 * 86_400_000))).toEqual({ ok: false, detail: expect.stringMatching(/^the certificate is valid from .* to .*, not now$/) });
    expect(refused(wildcard.cert, wildcard.key, 'visp.example.org', new Date(Date.now() - 86_400_000)).ok).toBe(false);
  });
});

describe('visp doctor: where sessions are served', () => {
  const config = path.join(dir, 'config');
  const writeEnv = (text: string) => {
    execFileSync('mkdir', ['-p', tlsDir(config)]);
    writeFileSync(path.join(config, 'visp.env'), text);
  };
  const install = ({ cert, key }: { cert: Buffer; key: Buffer }) => {
    writeFileSync(path.join(tlsDir(config), SESSIONS_CERT), cert);
    writeFileSync(path.join(tlsDir(config), SESSIONS_KEY), key);
  };

  it('says nothing before an install; warns when sessions share the gateway origin', () => {
    expect(sessionsOriginChecks(config)).toEqual([]);
    writeEnv('AUTH_MODE=dev-key\n');
    expect(sessionsOriginChecks(config)).toEqual([{ name: 'sessions origin', ok: false, warning: true, detail: expect.stringContaining("gateway's origin"), fix: expect.stringContaining('--sessions-cert') }]);
  });

  it('passes a fitting certificate, warns before it expires, fails a missing or wrong one', () => {
    writeEnv('SESSIONS_HOST=visp.example.org\n');
    expect(sessionsOriginChecks(config)).toEqual([{ name: 'sessions certificate', ok: false, detail: expect.stringMatching(/is missing$/), fix: expect.any(String) }]);
    install(makeCert(['*.visp.example.org']));
    expect(sessionsOriginChecks(config)).toEqual([{ name: 'sessions certificate', ok: true, detail: expect.stringContaining('*.visp.example.org') }]);
    install(makeCert(['*.visp.example.org'], 7));
    expect(sessionsOriginChecks(config)).toEqual([{ name: 'sessions certificate', ok: false, warning: true, detail: expect.stringContaining('in 6 days'), fix: expect.stringMatching(/^renew it/) }]);
    install(makeCert(['*.other.example.org']));
    expect(sessionsOriginChecks(config)).toEqual([{ name: 'sessions certificate', ok: false, detail: expect.stringContaining('not *.visp.example.org'), fix: expect.any(String) }]);
  });
});
