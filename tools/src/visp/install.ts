import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { isCleanDirectory } from '@visp/config';
import { caddyfile, createPodmanSecret, GATEWAY_REPOSITORIES_DROP_IN, gatewayRepositoriesDropIn, servicesNetworkPeers } from '@visp/quadlets';
import { OperatorError, sh } from './host';
import { imageLock, writeImageLock } from './ops';
import { CADDY_TLS_DIR, checkSessionsCert, SESSIONS_CERT, SESSIONS_KEY, tlsDir } from './session-cert';

export interface InstallOptions {
  /** The repository's quadlets/ directory. */
  quadlets: string;
  /** The operator's home (units go to ~/.config/containers/systemd, settings to ~/.config/visp). */
  home: string;
  /** Served over HTTPS with a Let's Encrypt certificate; without it Caddy serves plain HTTP on port 80. */
  domain?: string;
  /** `shibboleth` behind the bundled Shibboleth SP (visp-sp), or `dev-key` to try it out. */
  auth: 'shibboleth' | 'dev-key';
  /**
   * With `shibboleth`: the operator's SP files (shibboleth2.xml, attribute-map.xml, the IdP's metadata, the SP's
   * key pair), copied into ~/.config/visp/shibboleth; may be left out on a reinstall that has them already.
   */
  shibbolethDir?: string;
  admins: string[];
  withWhisperServer: boolean;
  /** Also serve VISP's `app.<domain>` (sessions picked by its SessionAccessCode cookie); needs `domain`. */
  appHost: boolean;
  /**
   * The certificate (PEM, with its chain) and key for `*.<domain>`, where each session is served on its own
   * origin (SESSIONS_HOST=<domain>); may be left out on a reinstall that has them already. Needs `domain`.
   */
  sessionsCert?: { cert: string; key: string };
  /**
   * Serve sessions at `/s/<sid>/` on the gateway's origin instead, where a session's scripts act with the
   * viewer's sign-in on the gateway's paths (see docs/security.md): only on purpose, for want of a wildcard.
   */
  sessionsOnGatewayOrigin: boolean;
  /**
   * Projects' repositories on the host (VISP's `mounts/repositories`): `PROJECT_REPOSITORIES_DIR` for the
   * session-manager, which mounts `<dir>/<project>` into a project's sessions, and the socket proxy, which allows that
   * bind only. An existing directory written the one way; Podman reads it on the host, so no unit mounts it.
   */
  projectRepositories?: string;
  /** Only say what would be done. */
  dryRun: boolean;
  /** Reload systemd and start the services (off for tests and for hosts that start them otherwise). */
  start: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * Secrets in `.env.secrets`, each also a Podman secret `visp-<name in kebab case>`. The login key exists in every
 * mode (the gateway's unit mounts it), but is only accepted with AUTH_MODE=dev-key.
 */
const GENERATED = ['SERVICE_TOKEN', 'COOKIE_SECRET', 'MONGO_PASSWORD', 'REDIS_PASSWORD', 'TEST_USER_LOGIN_KEY', 'SSO_PROXY_SECRET'] as const;
const secretName = (key: string) => `visp-${key.toLowerCase().replace(/_/g, '-')}`;
/** Every Podman secret install creates; uninstall removes these and nothing else (a test stack's `visp-…` stay). */
const PODMAN_SECRETS: readonly string[] = [...GENERATED.map(secretName), 'visp-mongo-uri', 'visp-redis-url'];

export const configDir = (home: string) => path.join(home, '.config/visp');
export const unitDir = (home: string) => path.join(home, '.config/containers/systemd');

/** The secrets, created with 32 random bytes each where missing; existing values are kept (idempotent). */
function ensureSecrets(file: string, keys: readonly string[], dryRun: boolean): { values: Record<string, string>; added: string[] } {
  const values = existsSync(file) ? parse(readFileSync(file)) : {};
  const added = keys.filter((key) => !values[key]);
  for (const key of added) values[key] = randomBytes(32).toString('base64url');
  if (added.length > 0 && !dryRun) {
    writeFileSync(file, `${Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n')}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { values, added };
}

/** What the services' Podman secrets hold: the generated values, and the URLs built from the passwords. */
function podmanSecrets(values: Record<string, string>): Record<string, string> {
  return {
    [secretName('SERVICE_TOKEN')]: values.SERVICE_TOKEN as string,
    [secretName('COOKIE_SECRET')]: values.COOKIE_SECRET as string,
    [secretName('MONGO_PASSWORD')]: values.MONGO_PASSWORD as string,
    [secretName('REDIS_PASSWORD')]: values.REDIS_PASSWORD as string,
    'visp-mongo-uri': `mongodb://visp:${values.MONGO_PASSWORD}@visp-mongo:27017/visp?authSource=admin`,
    'visp-redis-url': `redis://:${values.REDIS_PASSWORD}@visp-redis:6379`,
    [secretName('TEST_USER_LOGIN_KEY')]: values.TEST_USER_LOGIN_KEY as string,
    [secretName('SSO_PROXY_SECRET')]: values.SSO_PROXY_SECRET as string,
  };
}

/** A fully qualified DNS name in lowercase: labels of letters, digits and inner hyphens. */
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** The domain whose subdomains are the sessions' own hosts, or undefined when sessions share the gateway's origin. */
const sessionsHost = (options: InstallOptions) => (options.domain && !options.sessionsOnGatewayOrigin ? options.domain : undefined);

function edgeConfig(options: InstallOptions): string {
  const { domain } = options;
  const sites = domain ? [domain, ...(options.appHost ? [`app.${domain}`] : [])] : [':80'];
  const what = domain ? `HTTPS for ${sites.join(', ')} with certificates from Let's Encrypt.` : 'Plain HTTP: pass --domain for HTTPS.';
  const gateway = 'visp-gateway:8080';
  const main = caddyfile({ sites, gateway, sp: options.auth === 'shibboleth' ? 'visp-sp:8080' : undefined });
  const sessions = sessionsHost(options);
  if (!sessions) return `# Written by visp install. ${what}\n${main}`;
  // Caddy picks the most specific site: app.<domain> stays the app host's. The SP has nothing on a session's host.
  const tls = { cert: `${CADDY_TLS_DIR}/${SESSIONS_CERT}`, key: `${CADDY_TLS_DIR}/${SESSIONS_KEY}` };
  return `# Written by visp install. ${what}\n${main}\n# Each session on a host of its own (SESSIONS_HOST), with the operator's wildcard certificate.\n${caddyfile({ sites: [`*.${sessions}`], gateway, tls })}`;
}

/**
 * The wildcard certificate for the sessions' hosts, checked before anything is done: given (and right), or
 * installed before (doctor checks its dates), or sessions stay on the gateway's origin on purpose.
 */
function sessionsCertToCopy(options: InstallOptions): { cert: Buffer; key: Buffer } | undefined {
  const domain = sessionsHost(options);
  const given = options.sessionsCert;
  const fix = 'pass --sessions-cert FILE --sessions-key FILE with a certificate for *.<domain> (and a wildcard DNS record), or --sessions-on-gateway-origin to go without (docs/security.md says what that gives up)';
  if (given && !options.domain) throw new OperatorError('--sessions-cert serves *.<domain>: it needs --domain');
  if (!domain) return undefined;
  if (!given) {
    if (existsSync(path.join(tlsDir(configDir(options.home)), SESSIONS_CERT))) return undefined;
    throw new OperatorError(`sessions are served on their own hosts, *.${domain}, and need a certificate for them`, fix);
  }
  const pair = { cert: readFileSync(given.cert), key: readFileSync(given.key) };
  const verdict = checkSessionsCert(pair.cert, pair.key, domain);
  if (!verdict.ok) throw new OperatorError(`--sessions-cert ${given.cert}: ${verdict.detail}`, fix);
  return pair;
}

/**
 * `--project-repositories DIR`, checked before anything is done: it goes into the settings as it is, and the
 * socket proxy compares binds with it as text, so it must be written the one way; and it must be there.
 */
function checkProjectRepositories(dir: string | undefined): void {
  if (dir === undefined) return;
  const fix = 'pass the directory that holds one directory per project (VISP: mounts/repositories), as an absolute path';
  if (!isCleanDirectory(dir)) throw new OperatorError(`--project-repositories ${JSON.stringify(dir)}: not an absolute directory without . or .. parts, a trailing /, "," or ":"`, fix);
  // It is also a quadlet `Volume=` line (the gateway's drop-in), where systemd reads `%` as a specifier and quotes,
  // backslashes and blanks as syntax.
  if (/[\s%"'\\]/.test(dir)) throw new OperatorError(`--project-repositories ${JSON.stringify(dir)}: a blank, %, a quote or a backslash in it cannot go into the gateway's unit`, fix);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new OperatorError(`--project-repositories ${dir}: no such directory`, fix);
}

/** The SP's key files are for shibd alone; the rest Apache's workers read too (as www-data inside the container). */
const isPrivateKey = (file: string) => /\.key$|key\.pem$/i.test(file);

/** Copies the operator's SP files into the directory visp-sp mounts; the old copy goes. */
function copyShibbolethFiles(from: string, to: string): void {
  const files = readdirSync(from, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name);
  if (!files.includes('shibboleth2.xml')) throw new OperatorError(`${from} has no shibboleth2.xml`, 'pass the directory with your SP configuration: shibboleth2.xml, attribute-map.xml, the IdP metadata and the SP key pair');
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { mode: 0o755 });
  for (const file of files) {
    writeFileSync(path.join(to, file), readFileSync(path.join(from, file)), { mode: isPrivateKey(file) ? 0o600 : 0o644 });
  }
}

function settings(options: InstallOptions): string {
  const lines = [
    '# Plain settings for every VISP service (secrets are Podman secrets, never here). Written by visp install.',
    `AUTH_MODE=${options.auth}`,
    `ADMIN_USERS=${options.admins.join(',')}`,
    'NODE_ENV=production',
    'LOG_LEVEL=info',
    'TRANSCRIPTION_DATA_DIR=/var/lib/visp/transcriptions',
  ];
  if (options.domain) lines.push(`ALLOWED_ORIGINS=https://${options.domain}`);
  const sessions = sessionsHost(options);
  if (sessions) lines.push(`SESSIONS_HOST=${sessions}`);
  if (options.domain && options.appHost) lines.push(`COOKIE_DOMAIN=${options.domain}`, `APP_HOSTS=app.${options.domain}`, 'VISP_WEBCLIENT=true');
  // Only the services' network, where Caddy is, may speak for a client or read the services' operations: never
  // the sessions' network.
  lines.push(...Object.entries(servicesNetworkPeers(options.quadlets)).map(([key, value]) => `${key}=${value}`));
  if (options.projectRepositories) lines.push(`PROJECT_REPOSITORIES_DIR=${options.projectRepositories}`);
  if (options.auth === 'dev-key') lines.push('ALLOW_DEV_KEY_IN_PRODUCTION=true');
  if (options.withWhisperServer) lines.push('TRANSCRIPTION_BACKENDS=faster-whisper,openai', 'OPENAI_BASE_URL=http://visp-whisper-server:8000', 'OPENAI_MODEL=Systran/faster-whisper-small');
  return `${lines.join('\n')}\n`;
}

/**
 * Installs the deployment for the current user: links the quadlets into ~/.config/containers/systemd, writes the
 * plain settings and the Caddyfile, generates missing secrets into ~/.config/visp/.env.secrets (0600) and turns
 * each into a Podman secret, then reloads systemd and starts the front end (which pulls in everything else).
 * Returns the actions, in order; a dry run returns them without doing any.
 */
export function install(options: InstallOptions): string[] {
  const { actions, act } = plan(options.dryRun);
  const config = configDir(options.home);
  const units = unitDir(options.home);
  const shibboleth = path.join(config, 'shibboleth');
  if (options.auth === 'shibboleth' && !options.shibbolethDir && !existsSync(path.join(shibboleth, 'shibboleth2.xml'))) {
    throw new OperatorError('--auth shibboleth needs the SP configuration', 'pass --shibboleth-dir DIR (shibboleth2.xml, attribute-map.xml, the IdP metadata, the SP key pair), or --auth dev-key to try VISP out');
  }
  // It goes into the Caddyfile and the settings as it is: a DNS name, lowercase, nothing else.
  if (options.domain !== undefined && !DOMAIN.test(options.domain)) throw new OperatorError(`--domain ${JSON.stringify(options.domain)}: not a DNS name in lowercase (like visp.example.org)`);
  const sessionsPair = sessionsCertToCopy(options);
  checkProjectRepositories(options.projectRepositories);
  act(`create ${config} and ${units}`, () => {
    mkdirSync(config, { recursive: true, mode: 0o700 });
    // Always there: Caddy's unit mounts it.
    mkdirSync(tlsDir(config), { recursive: true, mode: 0o700 });
    mkdirSync(units, { recursive: true });
  });
  if (sessionsPair) {
    act(`copy the sessions' certificate and key to ${tlsDir(config)} (key 0600)`, () => {
      writeFileSync(path.join(tlsDir(config), SESSIONS_CERT), sessionsPair.cert, { mode: 0o644 });
      writeFileSync(path.join(tlsDir(config), SESSIONS_KEY), sessionsPair.key, { mode: 0o600 });
      chmodSync(path.join(tlsDir(config), SESSIONS_KEY), 0o600);
    });
  }
  for (const file of readdirSync(options.quadlets).filter((f) => /\.(container|network|volume)$/.test(f))) {
    const link = path.join(units, file);
    const wanted = !(file === 'visp-whisper-server.container' && !options.withWhisperServer) && !(file === 'visp-sp.container' && options.auth !== 'shibboleth');
    if (!wanted) {
      // Left from an install with other options: it would start a service nothing uses.
      if (isLink(link)) act(`remove ${link}`, () => rmSync(link));
      continue;
    }
    act(`link ${link} → ${path.join(options.quadlets, file)}`, () => {
      if (existsSync(link) || isLink(link)) rmSync(link);
      symlinkSync(path.join(options.quadlets, file), link);
    });
  }
  const dropIn = path.join(units, GATEWAY_REPOSITORIES_DROP_IN);
  const repositories = options.projectRepositories;
  if (repositories) {
    act(`write ${dropIn} (the gateway mounts ${repositories})`, () => {
      mkdirSync(path.dirname(dropIn), { recursive: true });
      writeFileSync(dropIn, gatewayRepositoriesDropIn(repositories));
    });
  } else if (existsSync(dropIn)) {
    // Left from an install with --project-repositories: the gateway would mount what nothing else uses.
    act(`remove ${dropIn}`, () => rmSync(dropIn));
  }
  act(`write ${path.join(config, 'visp.env')}`, () => writeFileSync(path.join(config, 'visp.env'), settings(options)));
  act(`write ${path.join(config, 'Caddyfile')}`, () => writeFileSync(path.join(config, 'Caddyfile'), edgeConfig(options)));
  if (options.auth === 'shibboleth') {
    const from = options.shibbolethDir;
    if (from) act(`copy the SP files from ${from} to ${shibboleth}`, () => copyShibbolethFiles(from, shibboleth));
    const publicUrl = options.domain ? `https://${options.domain}` : 'http://localhost';
    act(`write ${path.join(config, 'sp.env')}`, () => writeFileSync(path.join(config, 'sp.env'), `# Written by visp install: the site as users see it, for the SP's return URLs.\nVISP_PUBLIC_URL=${publicUrl}\n`));
  }
  const { values, added } = ensureSecrets(path.join(config, '.env.secrets'), GENERATED, options.dryRun);
  if (added.length) actions.push(`generate ${added.join(', ')} in ${path.join(config, '.env.secrets')} (mode 0600)`);
  for (const [name, value] of Object.entries(podmanSecrets(values))) {
    act(`create Podman secret ${name}`, () => {
      const failed = createPodmanSecret(name, value, options.env);
      if (failed) throw new OperatorError(`podman secret create ${name} failed: ${failed}`);
    });
  }
  act(`record the images in ${path.join(config, 'images.lock.json')}`, () => writeImageLock(path.join(config, 'images.lock.json'), imageLock(options.quadlets)));
  if (options.start) {
    act('systemctl --user daemon-reload', () => systemctl(['daemon-reload']));
    act('systemctl --user start visp-caddy.service (and what it needs)', () => systemctl(['start', 'visp-caddy.service']));
  }
  return actions;
}

export interface UninstallOptions {
  quadlets: string;
  home: string;
  /** Also remove the data: volumes, secrets file and settings. */
  purge: boolean;
  dryRun: boolean;
  stop: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Stops the services and removes the units and Podman secrets; data stays unless `purge`. */
export function uninstall(options: UninstallOptions): string[] {
  const { actions, act } = plan(options.dryRun);
  const units = unitDir(options.home);
  const files = readdirSync(options.quadlets).filter((f) => /\.(container|network|volume)$/.test(f));
  if (options.stop) act('systemctl --user stop visp-*', () => systemctl(['stop', ...files.filter((f) => f.endsWith('.container')).map((f) => f.replace('.container', '.service'))]));
  for (const file of files) {
    const link = path.join(units, file);
    if (existsSync(link) || isLink(link)) act(`remove ${link}`, () => rmSync(link));
  }
  const dropIn = path.join(units, GATEWAY_REPOSITORIES_DROP_IN);
  if (existsSync(dropIn)) act(`remove ${dropIn}`, () => rmSync(path.dirname(dropIn), { recursive: true, force: true }));
  const listed = sh('podman', ['secret', 'ls', '--format', '{{.Name}}'], { env: options.env }).stdout.split('\n').filter((n) => PODMAN_SECRETS.includes(n));
  for (const name of listed) act(`remove Podman secret ${name}`, () => void sh('podman', ['secret', 'rm', name], { env: options.env }));
  if (options.stop) act('systemctl --user daemon-reload', () => systemctl(['daemon-reload']));
  if (options.purge) {
    for (const volume of files.filter((f) => f.endsWith('.volume')).map((f) => f.replace('.volume', ''))) {
      act(`remove volume ${volume}`, () => void sh('podman', ['volume', 'rm', '--force', volume], { env: options.env }));
    }
    act(`remove ${configDir(options.home)}`, () => rmSync(configDir(options.home), { recursive: true, force: true }));
  }
  return actions;
}

/** Steps that are recorded, and done unless this is a dry run. */
function plan(dryRun: boolean): { actions: string[]; act: (what: string, run: () => void) => void } {
  const actions: string[] = [];
  return {
    actions,
    act(what, run) {
      actions.push(what);
      if (!dryRun) run();
    },
  };
}

function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function systemctl(args: string[]): void {
  const ran = sh('systemctl', ['--user', ...args]);
  if (ran.code !== 0) throw new OperatorError(`systemctl --user ${args.join(' ')} failed: ${ran.stderr.trim()}`, 'run visp doctor');
}
