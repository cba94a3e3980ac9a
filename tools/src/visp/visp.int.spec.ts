// The operator's CLI against this machine's real Podman and database: doctor's report, install and uninstall with
// generated secrets that never show in inspect output, logs or the repository, and backup then restore.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LABEL } from '@visp/contracts';
import { openStore } from '@visp/store';
import { randomSuffix, testInstanceId, testMongoUri, testRedisUrl, waitFor } from '@visp/testing';
import { ROOT } from '../paths';
import type { Check } from './doctor';
import { backup, restore } from './backup';
import { createPodmanSecret } from '@visp/quadlets';
import { install, uninstall } from './install';

const CLI = path.join(ROOT, 'dist/tools/visp.js');
// The local Podman (not the test service's socket: volume export and import exist only locally), same storage.
const { CONTAINER_HOST: _remote, ...localEnv } = process.env;
const podman = (...args: string[]) => execFileSync('podman', args, { encoding: 'utf8', env: localEnv, stdio: ['ignore', 'pipe', 'pipe'] });

describe('visp doctor', () => {
  it('reports this machine as it is: whether its Podman can run quadlets (with the fix if not); exit 1 on a failed check; --json is data', () => {
    // As an operator would run it: without the project's own containers.conf.
    const { CONTAINERS_CONF: _ignored, ...env } = process.env;
    const ran = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8', env });
    const checks = JSON.parse(ran.stdout) as Check[];
    // The installed version, read as doctor reads it; quadlets need 4.4 or later.
    const version = execFileSync('podman', ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8', env }).trim();
    const [major = 0, minor = 0] = version.split('.').map(Number);
    const supported = major > 4 || (major === 4 && minor >= 4);
    expect(checks.find((c) => c.name === 'podman')).toEqual(
      supported
        ? { name: 'podman', ok: true, detail: `Podman ${version}: quadlets supported` }
        : { name: 'podman', ok: false, detail: `Podman ${version}: quadlets unsupported (they need Podman ≥ 4.4)`, fix: expect.stringMatching(/install Podman ≥ 4\.4/) },
    );
    expect(ran.status).toBe(checks.some((c) => !c.ok && !c.warning) ? 1 : 0);
    expect(checks.find((c) => c.name === 'rootless')?.ok).toBe(process.getuid?.() !== 0);
    for (const check of checks.filter((c) => !c.ok)) expect(check.fix).toBeTruthy();
    const text = spawnSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8', env });
    const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(text.stdout).toMatch(
      supported ? new RegExp(`✓ podman: Podman ${escaped}: quadlets supported\n`) : new RegExp(`✗ podman: Podman ${escaped}: quadlets unsupported[^\n]*\n {4}fix: install Podman ≥ 4\\.4`),
    );
  });

  it('answers --help for every command and exits 2 on an unknown one', () => {
    for (const command of ['doctor', 'install', 'uninstall', 'status', 'logs', 'start', 'stop', 'restart', 'shell', 'exec', 'network', 'sessions', 'drift', 'audit', 'backup', 'restore']) {
      const ran = spawnSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
      expect([command, ran.status, ran.stdout]).toEqual([command, 0, expect.stringContaining(`visp ${command === 'stop' || command === 'restart' ? 'start|stop|restart' : command === 'exec' ? 'shell' : command}`)]);
    }
    expect(spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' }).status).toBe(2);
    expect(spawnSync(process.execPath, [CLI, 'backup'], { encoding: 'utf8' }).stderr).toMatch(/visp backup: where to\?/);
  });
});

describe('visp install and uninstall', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'visp-home-'));
  // Sessions on the gateway's origin unless a test says otherwise: most tests here are about something else.
  const base = { quadlets: path.join(ROOT, 'quadlets'), home, auth: 'dev-key' as const, admins: ['ada'], withWhisperServer: false, appHost: false, sessionsOnGatewayOrigin: true, dryRun: false, start: false };
  let probe = '';

  afterAll(() => {
    uninstall({ quadlets: base.quadlets, home, purge: false, dryRun: false, stop: false });
    if (probe) spawnSync('podman', ['rm', '--force', probe]);
    spawnSync('podman', ['secret', 'rm', `visp-test-redis-url-${process.pid}`]);
    rmSync(home, { recursive: true, force: true });
  });

  it('generates strong secrets once, makes them Podman secrets, and links the units; a dry run changes nothing', () => {
    const planned = install({ ...base, dryRun: true, domain: 'visp.example.org' });
    expect(planned).toEqual(expect.arrayContaining([expect.stringMatching(/^create Podman secret visp-service-token$/), expect.stringMatching(/^generate SERVICE_TOKEN, COOKIE_SECRET/)]));
    expect(() => statSync(path.join(home, '.config'))).toThrow();

    install({ ...base, domain: 'visp.example.org' });
    const secretsFile = path.join(home, '.config/visp/.env.secrets');
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const first = readFileSync(secretsFile, 'utf8');
    for (const line of first.trim().split('\n')) expect(line).toMatch(/^[A-Z_]+=[A-Za-z0-9_-]{43}$/);
    expect(lstatSync(path.join(home, '.config/containers/systemd/visp-gateway.container')).isSymbolicLink()).toBe(true);
    // Headers no client may send are removed before anything else; dev-key has no SP, so everything goes to the gateway.
    const edge = readFileSync(path.join(home, '.config/visp/Caddyfile'), 'utf8');
    expect(edge).toMatch(/^visp\.example\.org \{\n\tencode zstd gzip\n(\trequest_header -[\w-]+\n)+\thandle \{\n\t\treverse_proxy visp-gateway:8080\n\t\}\n\}/m);
    for (const header of ['eppn', 'Visp-Sso-Secret', 'X-Forwarded-For', 'X-Forwarded-Proto']) expect(edge).toContain(`\trequest_header -${header}\n`);
    expect(edge).not.toContain('visp-sp');
    const env = readFileSync(path.join(home, '.config/visp/visp.env'), 'utf8');
    expect(env).toMatch(/^AUTH_MODE=dev-key$/m);
    for (const key of ['TRUSTED_PROXY_CIDRS', 'OPERATIONS_CIDRS']) expect(env).toMatch(new RegExp(`^${key}=10\\.89\\.254\\.0/24$`, 'm')); // visp-net's, never the sessions'
    // The images the units run, as installed: what visp drift compares the running containers with.
    const lock = JSON.parse(readFileSync(path.join(home, '.config/visp/images.lock.json'), 'utf8')) as Record<string, string>;
    expect(lock['localhost/visp-gateway:1']).toBe(podman('image', 'inspect', 'localhost/visp-gateway:1', '--format', '{{.Id}}').trim());
    const secrets = podman('secret', 'ls', '--format', '{{.Name}}').split('\n');
    expect(secrets).toEqual(expect.arrayContaining(['visp-service-token', 'visp-cookie-secret', 'visp-mongo-uri', 'visp-redis-url', 'visp-mongo-password', 'visp-redis-password', 'visp-test-user-login-key', 'visp-sso-proxy-secret']));

    // Again, now also serving VISP's app host: nothing regenerated; Caddy and the gateway serve app.<domain> too.
    install({ ...base, domain: 'visp.example.org', appHost: true });
    expect(readFileSync(secretsFile, 'utf8')).toBe(first);
    expect(readFileSync(path.join(home, '.config/visp/Caddyfile'), 'utf8')).toMatch(/^visp\.example\.org, app\.visp\.example\.org \{$/m);
    expect(readFileSync(path.join(home, '.config/visp/visp.env'), 'utf8')).toMatch(/^COOKIE_DOMAIN=visp\.example\.org\nAPP_HOSTS=app\.visp\.example\.org\n/m);
    // The secret values are nowhere in Podman's description of the secrets, nor in the repository's files.
    const values = first.trim().split('\n').map((l) => l.split('=')[1] as string);
    const described = podman('secret', 'inspect', 'visp-service-token', 'visp-cookie-secret', 'visp-redis-url');
    for (const value of values) expect(described).not.toContain(value);
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(tracked.filter((f) => path.basename(f) === '.env.secrets')).toEqual([]);
    for (const value of values) expect(spawnSync('git', ['grep', '-q', '-F', '-e', value], { cwd: ROOT }).status).toBe(1);
  });

  it('with --auth shibboleth: needs the SP files, copies them (keys 0600), links visp-sp, and Caddy sends the SP only its paths', () => {
    const other = mkdtempSync(path.join(tmpdir(), 'visp-home-'));
    expect(() => install({ ...base, home: other, auth: 'shibboleth', domain: 'visp.example.org' })).toThrow(/--auth shibboleth needs the SP configuration/);
    expect(() => statSync(path.join(other, '.config'))).toThrow(); // refused before doing anything
    rmSync(other, { recursive: true, force: true });

    const spFiles = mkdtempSync(path.join(tmpdir(), 'visp-sp-files-'));
    for (const file of ['shibboleth2.xml', 'attribute-map.xml', 'idp-metadata.xml', 'sp-cert.pem', 'sp-key.pem']) writeFileSync(path.join(spFiles, file), `<!-- ${file} -->\n`);
    install({ ...base, auth: 'shibboleth', domain: 'visp.example.org', shibbolethDir: spFiles });
    const copied = path.join(home, '.config/visp/shibboleth');
    expect([statSync(path.join(copied, 'sp-key.pem')).mode & 0o777, statSync(path.join(copied, 'shibboleth2.xml')).mode & 0o777]).toEqual([0o600, 0o644]);
    expect(readFileSync(path.join(home, '.config/visp/sp.env'), 'utf8')).toMatch(/^VISP_PUBLIC_URL=https:\/\/visp\.example\.org$/m);
    expect(lstatSync(path.join(home, '.config/containers/systemd/visp-sp.container')).isSymbolicLink()).toBe(true);
    const edge = readFileSync(path.join(home, '.config/visp/Caddyfile'), 'utf8');
    expect(edge).toMatch(/\trequest_header -Visp-Sso-Secret\n(\trequest_header -[\w-]+\n)*\t@sso path \/Shibboleth\.sso \/Shibboleth\.sso\/\* \/auth\/sso \/auth\/sso\/\*\n\thandle @sso \{\n\t\treverse_proxy visp-sp:8080\n\t\}\n\thandle \{\n\t\treverse_proxy visp-gateway:8080\n/);
    expect(podman('secret', 'ls', '--format', '{{.Name}}').split('\n')).toContain('visp-sso-proxy-secret');
    // A reinstall keeps the copy; back to dev-key, the SP's unit goes.
    install({ ...base, auth: 'shibboleth', domain: 'visp.example.org' });
    expect(readFileSync(path.join(copied, 'shibboleth2.xml'), 'utf8')).toBe('<!-- shibboleth2.xml -->\n');
    install({ ...base, domain: 'visp.example.org' });
    expect(() => lstatSync(path.join(home, '.config/containers/systemd/visp-sp.container'))).toThrow();
    rmSync(spFiles, { recursive: true, force: true });
  });

  it('with a wildcard certificate: each session on its own host, Caddy serving *.<domain> with it; a wrong one refused first', () => {
    const files = mkdtempSync(path.join(tmpdir(), 'visp-cert-'));
    const certFor = (name: string, ...names: string[]) => {
      const pair = { cert: path.join(files, `${name}.crt`), key: path.join(files, `${name}.key`) };
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=visp-test', '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', pair.key, '-out', pair.cert], { stdio: 'ignore' });
      return pair;
    };
    const own = { ...base, domain: 'visp.example.org', sessionsOnGatewayOrigin: false };
    const settingsFile = path.join(home, '.config/visp/visp.env');
    const before = readFileSync(settingsFile, 'utf8');
    const wildcard = certFor('wildcard', '*.visp.example.org');
    const elsewhere = certFor('elsewhere', '*.other.example.org');
    // Without a certificate, with one for another domain, with another certificate's key: refused before anything.
    expect(() => install(own)).toThrow(/need a certificate for them/);
    expect(() => install({ ...own, sessionsCert: elsewhere })).toThrow(/names \*\.other\.example\.org, not \*\.visp\.example\.org/);
    expect(() => install({ ...own, sessionsCert: { cert: wildcard.cert, key: elsewhere.key } })).toThrow(/the key is not the certificate’s/);
    expect(() => install({ ...base, domain: undefined, sessionsOnGatewayOrigin: false, sessionsCert: wildcard })).toThrow(/needs --domain/);
    // A domain that would write more than a name into the Caddyfile, or one a certificate check would misread.
    for (const domain of ['visp.example.org {\n\tdebug', 'Visp.Example.org', 'visp.example.org/', '*.visp.example.org', 'localhost']) {
      expect(() => install({ ...own, domain, sessionsCert: wildcard })).toThrow(/not a DNS name/);
    }
    expect(readFileSync(settingsFile, 'utf8')).toBe(before);
    expect(() => statSync(path.join(home, '.config/visp/tls/sessions.crt'))).toThrow();

    install({ ...own, sessionsCert: wildcard });
    const tls = path.join(home, '.config/visp/tls');
    expect([statSync(tls).mode & 0o777, statSync(path.join(tls, 'sessions.key')).mode & 0o777, statSync(path.join(tls, 'sessions.crt')).mode & 0o777]).toEqual([0o700, 0o600, 0o644]);
    expect(readFileSync(path.join(tls, 'sessions.key'))).toEqual(readFileSync(wildcard.key));
    expect(readFileSync(settingsFile, 'utf8')).toMatch(/^SESSIONS_HOST=visp\.example\.org$/m);
    const edge = readFileSync(path.join(home, '.config/visp/Caddyfile'), 'utf8');
    // The sessions' site: the operator's certificate, the same headers removed, everything to the gateway, no SP.
    expect(edge).toMatch(/^\*\.visp\.example\.org \{\n\ttls \/etc\/caddy\/tls\/sessions\.crt \/etc\/caddy\/tls\/sessions\.key\n\tencode zstd gzip\n(\trequest_header -[\w-]+\n)+\thandle \{\n\t\treverse_proxy visp-gateway:8080\n\t\}\n\}/m);
    // Caddy itself takes it, certificates loaded (from where the unit mounts them, here the copy install made).
    const hostCaddyfile = path.join(files, 'Caddyfile');
    writeFileSync(hostCaddyfile, edge.replaceAll('/etc/caddy/tls', tls));
    const caddyHome = { ...process.env, HOME: files, XDG_DATA_HOME: files, XDG_CONFIG_HOME: files };
    const validate = () => spawnSync('caddy', ['validate', '--config', hostCaddyfile, '--adapter', 'caddyfile'], { encoding: 'utf8', env: caddyHome });
    const validated = validate();
    expect([validated.status, validated.stderr.split('\n').filter((l) => /"level":"error"/.test(l))]).toEqual([0, []]);
    writeFileSync(hostCaddyfile, edge.replaceAll('/etc/caddy/tls', files)); // where there is no such pair: Caddy says so
    expect(validate()).toMatchObject({ status: 1, stderr: expect.stringContaining('sessions.crt') });
    // A reinstall without the files keeps the copy.
    install(own);
    expect(readFileSync(path.join(tls, 'sessions.crt'))).toEqual(readFileSync(wildcard.cert));
    rmSync(files, { recursive: true, force: true });
  });

  it('with --project-repositories: hands the directory to the session-manager and the socket proxy, mounts it in the gateway; a relative, unclean or missing one refused first', () => {
    const repositories = mkdtempSync(path.join(tmpdir(), 'visp-repositories-'));
    const settingsFile = path.join(home, '.config/visp/visp.env');
    install(base);
    const before = readFileSync(settingsFile, 'utf8');
    const dropIn = path.join(home, '.config/containers/systemd/visp-gateway.container.d/repositories.conf');
    for (const dir of ['repositories', `${repositories}/`, `${repositories}/../x`, `${repositories},x`, `${repositories}/a b`, `${repositories}/%h`, path.join(repositories, 'missing')]) {
      expect(() => install({ ...base, projectRepositories: dir })).toThrow(/--project-repositories/);
    }
    expect(readFileSync(settingsFile, 'utf8')).toBe(before);
    install({ ...base, projectRepositories: repositories });
    // visp.env is every service's EnvironmentFile, the session-manager's and the socket proxy's among them.
    expect(readFileSync(settingsFile, 'utf8')).toContain(`\nPROJECT_REPOSITORIES_DIR=${repositories}\n`);
    // The gateway reads VISP's bundles there and writes their transcripts: its unit mounts it, at the same path.
    expect(readFileSync(dropIn, 'utf8')).toMatch(new RegExp(`^\\[Container\\]\nVolume=${repositories}:${repositories}\n`, 'm'));
    install(base);
    expect(readFileSync(settingsFile, 'utf8')).toBe(before);
    expect(existsSync(dropIn)).toBe(false);
    rmSync(repositories, { recursive: true, force: true });
  });

  it('hands a service its secret as a file: not in the container’s environment, inspect output or logs', async () => {
    const name = `visp-test-redis-url-${process.pid}`;
    // A database of its own: this worker must take no other test's jobs.
    const value = testRedisUrl(9);
    createPodmanSecret(name, value);
    probe = `visp-test-secret-${randomSuffix()}`;
    podman(
      'run', '-d', '--name', probe, '--network', 'host', '--label', `${LABEL.instance}=${testInstanceId()}`,
      '--secret', `${name},type=mount,target=/etc/visp/secrets/redis-url,mode=0400,uid=1000`,
      '-e', 'REDIS_URL_FILE=/etc/visp/secrets/redis-url', '-e', `MONGO_URI=${testMongoUri('secretprobe')}`, '-e', 'PORT=18790', '-e', 'LOG_LEVEL=debug', '-e', 'TRANSCRIPTION_BACKENDS=openai', '-e', 'OPENAI_BASE_URL=http://127.0.0.1:9',
      'localhost/visp-whisper-worker:1',
    );
    // Up and connected to Redis with the secret's URL: /healthz answers and the worker took its queue.
    await waitFor('the probe container to answer', async () => (await fetch('http://127.0.0.1:18790/healthz').catch(() => undefined))?.ok === true, 60_000);
    const inspect = podman('container', 'inspect', probe);
    expect(inspect).toContain('REDIS_URL_FILE=/etc/visp/secrets/redis-url');
    expect(inspect).not.toContain(value);
    expect(podman('logs', probe)).not.toContain(value);
    expect(podman('exec', probe, 'printenv')).not.toContain(value);
  }, 90_000);

  it('uninstall removes the units and its own secrets, keeps the settings and data, and leaves other visp-… secrets', () => {
    // Another stack's secret on the same host (the containerised test stack names its own like this).
    const neighbour = `visp-service-token-${randomSuffix()}`;
    expect(createPodmanSecret(neighbour, 'not ours', localEnv)).toBeUndefined();
    try {
      const actions = uninstall({ quadlets: base.quadlets, home, purge: false, dryRun: false, stop: false });
      expect(actions).toEqual(expect.arrayContaining(['remove Podman secret visp-service-token']));
      const left = podman('secret', 'ls', '--format', '{{.Name}}').split('\n');
      expect(left.filter((n) => /^visp-(service-token|cookie-secret|mongo-uri)$/.test(n))).toEqual([]);
      expect(left).toContain(neighbour);
    } finally {
      spawnSync('podman', ['secret', 'rm', neighbour], { env: localEnv });
    }
    expect(() => lstatSync(path.join(home, '.config/containers/systemd/visp-gateway.container'))).toThrow();
    expect(statSync(path.join(home, '.config/visp/.env.secrets')).isFile()).toBe(true);
  });
});

describe('visp backup and restore', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'visp-backup-'));
  const instance = testInstanceId();
  const volume = `visp-home-backuptest-${randomSuffix()}`;

  afterAll(() => {
    spawnSync('podman', ['volume', 'rm', '--force', volume], { env: localEnv });
    rmSync(work, { recursive: true, force: true });
  });

  it('gives back the same sessions and files in an empty database and volume', async () => {
    const source = testMongoUri('backupsrc');
    const store = await openStore(source);
    for (const owner of ['ada', 'bo']) {
      await store.sessions.create({ sid: `${owner}000000000`.slice(0, 12).replace(/[^a-z2-7]/g, 'a'), owner, type: 'jupyter', instance, limits: { memoryMiB: 512, cpus: 1, pids: 128 } });
    }
    await store.users.upsertOnSignIn({ username: 'ada', email: 'ada@example.org', admin: false });
    const sessionsBefore = (await store.sessions.listAnyOwner({})).map((s) => ({ ...s, updatedAt: undefined }));
    await store.close();

    const files = path.join(work, 'files');
    mkdirSync(path.join(files, 'notebooks'), { recursive: true });
    writeFileSync(path.join(files, 'notebooks/analysis.ipynb'), '{"cells": []}\n');
    writeFileSync(path.join(files, 'notes.txt'), 'läsa mer\n');
    execFileSync('tar', ['-C', files, '-cf', path.join(work, 'seed.tar'), '.']);
    podman('volume', 'create', '--label', `${LABEL.instance}=${instance}`, volume);
    podman('volume', 'import', volume, path.join(work, 'seed.tar'));

    const out = path.join(work, 'backup');
    const manifest = await backup({ out, mongoUri: source, volumes: [volume], env: localEnv });
    expect(manifest.collections.find((c) => c.name === 'sessions')?.documents).toBe(2);
    // Users' files and the database (emails, token hashes) are the operator's alone, whatever the umask.
    const entries = ['', 'mongo', 'volumes', 'manifest.json', 'mongo/sessions.ejson', `volumes/${volume}.tar`];
    expect(entries.map((entry) => [entry, (statSync(path.join(out, entry)).mode & 0o777).toString(8)])).toEqual(entries.map((entry) => [entry, entry.includes('.') ? '600' : '700']));

    podman('volume', 'rm', volume);
    const target = testMongoUri('backupdst');
    await restore({ from: out, mongoUri: target, env: localEnv });
    // Restoring again would overwrite: refused.
    await expect(restore({ from: out, mongoUri: target, env: localEnv })).rejects.toThrow(/exists already|already has data/);

    const restored = await openStore(target);
    try {
      expect((await restored.sessions.listAnyOwner({})).map((s) => ({ ...s, updatedAt: undefined }))).toEqual(sessionsBefore);
      expect((await restored.users.find('ada'))?.email).toBe('ada@example.org');
    } finally {
      await restored.close();
    }
    const back = path.join(work, 'back');
    mkdirSync(back);
    podman('volume', 'export', volume, '--output', path.join(work, 'back.tar'));
    execFileSync('tar', ['-C', back, '-xf', path.join(work, 'back.tar')]);
    expect(readFileSync(path.join(back, 'notebooks/analysis.ipynb'), 'utf8')).toBe('{"cells": []}\n');
    expect(readFileSync(path.join(back, 'notes.txt'), 'utf8')).toBe('läsa mer\n');
    expect(JSON.parse(podman('volume', 'inspect', volume))[0].Labels).toEqual({ [LABEL.instance]: instance });
  }, 120_000);
});
