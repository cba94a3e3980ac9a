import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Sessions are served at `<sid>.<domain>`, each its own origin (SESSIONS_HOST): Caddy needs a certificate for
 * `*.<domain>`. Let's Encrypt gives wildcards only through a DNS challenge, which Debian's Caddy cannot answer, and
 * one certificate per session would hit its rate limits; so the operator brings one (GÉANT TCS, which Swedish
 * universities use, issues wildcards). Install copies it here, Caddy mounts this directory.
 */
export const tlsDir = (config: string) => path.join(config, 'tls');
export const SESSIONS_CERT = 'sessions.crt';
export const SESSIONS_KEY = 'sessions.key';
/** Where the Caddy container sees tlsDir (visp-caddy.container). */
export const CADDY_TLS_DIR = '/etc/caddy/tls';

/** Days before expiry from which doctor warns. */
const RENEW_WITHIN_DAYS = 14;

export type CertVerdict = { ok: true; detail: string; expiresInDays: number } | { ok: false; detail: string };

/** Whether `pattern` (a certificate's DNS name) covers `host` as a browser matches it: `*` is one whole label. */
const covers = (pattern: string, host: string) =>
  pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)) && !host.slice(0, -pattern.length + 1).includes('.'));

/**
 * Whether the PEM pair serves every session host of `domain` (a probe host `<12 chars>.<domain>`): the certificate
 * parses, names `*.<domain>` among its DNS names, is valid now, and the key is its own.
 */
export function checkSessionsCert(certPem: Buffer, keyPem: Buffer, domain: string, now = new Date()): CertVerdict {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { ok: false, detail: 'the certificate is not PEM X.509' };
  }
  const names = (cert.subjectAltName ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4).toLowerCase());
  const probe = `abcdefgh2345.${domain}`;
  if (!names.some((name) => covers(name, probe))) return { ok: false, detail: `the certificate names ${names.join(', ') || 'no DNS name'}, not *.${domain}` };
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return { ok: false, detail: 'the key is not the certificate’s' };
  } catch {
    return { ok: false, detail: 'the key is not a PEM private key' };
  }
  const [from, to] = [new Date(cert.validFrom), new Date(cert.validTo)];
  if (now < from || now > to) return { ok: false, detail: `the certificate is valid from ${from.toISOString()} to ${to.toISOString()}, not now` };
  const expiresInDays = Math.floor((to.getTime() - now.getTime()) / 86_400_000);
  return { ok: true, detail: `*.${domain}, expires ${to.toISOString().slice(0, 10)} (in ${expiresInDays} days)`, expiresInDays };
}

/** The installed pair (tlsDir) checked for `domain`, or why it cannot be. */
export function checkInstalledSessionsCert(config: string, domain: string, now = new Date()): CertVerdict {
  const [cert, key] = [path.join(tlsDir(config), SESSIONS_CERT), path.join(tlsDir(config), SESSIONS_KEY)];
  if (!existsSync(cert) || !existsSync(key)) return { ok: false, detail: `${cert} or ${key} is missing` };
  return checkSessionsCert(readFileSync(cert), readFileSync(key), domain, now);
}

export const renewSoon = (verdict: CertVerdict) => verdict.ok && verdict.expiresInDays < RENEW_WITHIN_DAYS;
