import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import type { Check } from './doctor';
import { SP_IMAGE } from '../images';
import { sh } from './host';
import { checkInstalledSessionsCert, renewSoon } from './session-cert';

const readEnv = (file: string) => (existsSync(file) ? parse(readFileSync(file)) : {});
const hostOf = (url: string | undefined) => {
  try {
    return url ? new URL(url).hostname : undefined;
  } catch {
    return undefined;
  }
};

/**
 * With AUTH_MODE=shibboleth in the installed settings: the SP's files are there, shibd accepts them (run in the SP's
 * own image, so the check is the SP's), and the SP's entity id is on the site's domain. Nothing in dev-key mode.
 */
export function shibbolethChecks(config: string, env: NodeJS.ProcessEnv = process.env): Check[] {
  if (readEnv(path.join(config, 'visp.env')).AUTH_MODE !== 'shibboleth') return [];
  const dir = path.join(config, 'shibboleth');
  const main = path.join(dir, 'shibboleth2.xml');
  const fix = 'visp install --shibboleth-dir DIR with your SP files (docs/deployment.md, "Sign-in")';
  if (!existsSync(main)) return [{ name: 'shibboleth files', ok: false, detail: `${main} is missing`, fix }];
  const checks: Check[] = [{ name: 'shibboleth files', ok: true, detail: dir }];

  const checked = sh('podman', ['run', '--rm', '--pull', 'never', '--network', 'none', '-v', `${dir}:/etc/visp/shibboleth:ro`, SP_IMAGE, '/usr/local/bin/visp-sp', 'check'], { env });
  const says = `${checked.stdout}${checked.stderr}`.trim().split('\n').filter((line) => /error|fatal|crit/i.test(line)).slice(-3).join('; ');
  checks.push(
    checked.code === 0
      ? { name: 'shibboleth configuration', ok: true, detail: 'shibd -t accepts it' }
      : { name: 'shibboleth configuration', ok: false, detail: `shibd -t refuses it: ${says || `exit ${checked.code}`}`, fix: `correct the files in ${dir} (or in your DIR and install again)` },
  );

  const entityId = /<ApplicationDefaults\b[^>]*\bentityID\s*=\s*"([^"]*)"/.exec(readFileSync(main, 'utf8'))?.[1];
  const site = readEnv(path.join(config, 'sp.env')).VISP_PUBLIC_URL;
  const [entityHost, siteHost] = [hostOf(entityId), hostOf(site)];
  checks.push(
    entityHost && entityHost === siteHost
      ? { name: 'shibboleth entity id', ok: true, detail: `${entityId} is on ${siteHost}` }
      : {
          name: 'shibboleth entity id',
          ok: false,
          detail: `the SP's entityID ${entityId ?? '(none in ApplicationDefaults)'} is not on the site's domain ${siteHost ?? '(no VISP_PUBLIC_URL in sp.env)'}`,
          fix: `set entityID="https://${siteHost ?? '<domain>'}/shibboleth" in shibboleth2.xml (and register that with your federation), then install again`,
        },
  );
  return checks;
}

/**
 * Where sessions are served: on hosts of their own (SESSIONS_HOST) with a wildcard certificate that fits and is
 * not about to expire, or (a warning) on the gateway's origin. Nothing before an install.
 */
export function sessionsOriginChecks(config: string): Check[] {
  const file = path.join(config, 'visp.env');
  if (!existsSync(file)) return [];
  const host = readEnv(file).SESSIONS_HOST;
  const fix = 'visp install --domain NAME --sessions-cert FILE --sessions-key FILE (a certificate for *.NAME and a wildcard DNS record)';
  if (!host) {
    return [{ name: 'sessions origin', ok: false, warning: true, detail: "sessions are served on the gateway's origin: a session's scripts can act with its viewer's sign-in", fix }];
  }
  const verdict = checkInstalledSessionsCert(config, host);
  if (!verdict.ok) return [{ name: 'sessions certificate', ok: false, detail: verdict.detail, fix }];
  if (renewSoon(verdict)) return [{ name: 'sessions certificate', ok: false, warning: true, detail: verdict.detail, fix: `renew it, then ${fix}` }];
  return [{ name: 'sessions certificate', ok: true, detail: verdict.detail }];
}
