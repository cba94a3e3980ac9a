// A real single sign-on chain on loopback, as production runs it: Caddy with the Caddyfile `visp install` writes
// (libs/quadlets), the Shibboleth SP container run from quadlets/visp-sp.container, and a SAML IdP (Debian's
// SimpleSAMLphp under Apache, a test fixture) with one user. Keys and metadata are made at start, never stored.
// Adapted from shared/saml/ (measured there): SP on plain HTTP needs handlerSSL="false" and cookieProps="http";
// the IdP's metadata needs its shibmd:Scope, or the SP drops the scoped eppn; Apache must run in a session of its
// own (it signals its process group when stopped).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { caddyfile, containerRunArgs, createPodmanSecret, parseUnit } from '@visp/quadlets';
import { LABEL } from '@visp/contracts';
import { randomSuffix, waitFor } from '@visp/testing';
import { loopbackRequest } from './loopback-http';

const ROOT = path.resolve(__dirname, '../..');
export const SP_IMAGE = 'localhost/visp-sp:1';

export interface SamlRigPorts {
  /** Caddy: the site users see, `http://visp.localhost:<edge>`. */
  edge: number;
  sp: number;
  idp: number;
  /** Where the gateway listens on 127.0.0.1. */
  gateway: number;
}

export interface SamlRigOptions {
  /** What the SP sends the gateway as Visp-Sso-Secret: the gateway's SSO_PROXY_SECRET. */
  secret: string;
}

/** The IdP's one user and the attributes it asserts. */
export const IDP_USER = { login: 'student', password: 'studentpass', eppn: 'student@visp.localhost', mail: 'student@visp.localhost', displayName: 'Stu Dent', affiliation: 'member@visp.localhost' };

export interface SamlRig {
  /** `http://visp.localhost:<edge>` */
  site: string;
  siteHost: string;
  idpHost: string;
  /** The operator's SP files the SP runs with (what `visp install --shibboleth-dir` takes). */
  operatorDir: string;
  /** Runs a shell command inside the SP's container (as its root); its standard output. */
  execInSp(command: string): string;
  /** The SP container's log and the IdP's, for a failing test. */
  logs(): string;
  stop(): void;
}

// The local podman (same storage as the test runner's service): secrets exist only locally.
const { CONTAINER_HOST: _remote, ...podmanEnv } = process.env;
const podman = (...args: string[]) => execFileSync('podman', args, { encoding: 'utf8', env: podmanEnv, stdio: ['ignore', 'pipe', 'pipe'] });

const certBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

function keyPair(dir: string, name: string, host: string): { key: string; cert: string } {
  const [key, cert] = [path.join(dir, `${name}-key.pem`), path.join(dir, `${name}-cert.pem`)];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${host}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key, cert };
}

/** Runs a daemon in a session of its own (Apache signals its process group on stop); dies with the test. */
function daemon(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', command, ...args], { detached: true, stdio: 'ignore', env });
  child.unref();
  return child;
}

export async function startSamlRig(ports: SamlRigPorts, { secret }: SamlRigOptions): Promise<SamlRig> {
  const run = randomSuffix(3);
  const dir = mkdtempSync(path.join(tmpdir(), 'visp-saml-'));
  chmodSync(dir, 0o755);
  const siteHost = `visp.localhost:${ports.edge}`;
  const idpHost = `idp.localhost:${ports.idp}`;
  const site = `http://${siteHost}`;
  const operator = path.join(dir, 'shibboleth');
  const spEntity = 'https://visp.localhost/shibboleth';
  const idpEntity = 'https://idp.localhost/';
  const children: ChildProcess[] = [];
  const container = `visp-sp-test-${run}`;
  const secretName = `visp-sso-proxy-secret-${run}`;
  const stop = () => {
    spawnSync('podman', ['rm', '--force', '--time', '2', container], { env: podmanEnv });
    spawnSync('podman', ['secret', 'rm', secretName], { env: podmanEnv });
    for (const child of children) if (child.pid) spawnSync('kill', ['-TERM', '--', `-${child.pid}`]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // The operator's SP files, as `visp install --shibboleth-dir` takes them.
    mkdirSync(operator, { mode: 0o755 });
    const sp = keyPair(operator, 'sp', 'visp.localhost');
    chmodSync(sp.key, 0o600);
    const idpKeys = path.join(dir, 'idp-keys');
    mkdirSync(idpKeys);
    const idp = keyPair(idpKeys, 'idp', 'idp.localhost');
    chownSync(idp.key, 0, 33); // PHP (www-data) signs with it
    chmodSync(idp.key, 0o640);
    chmodSync(idpKeys, 0o755);

    writeFileSync(path.join(operator, 'shibboleth2.xml'), spConfig(spEntity, idpEntity));
    writeFileSync(path.join(operator, 'attribute-map.xml'), ATTRIBUTE_MAP);
    writeFileSync(
      path.join(operator, 'idp-metadata.xml'),
      `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" entityID="${idpEntity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:Extensions><shibmd:Scope regexp="false">visp.localhost</shibmd:Scope></md:Extensions>
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(readFileSync(idp.cert, 'utf8'))}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://${idpHost}/simplesaml/saml2/idp/SSOService.php"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`,
    );

    // The IdP: SimpleSAMLphp, which reads the SP's metadata from a file.
    const idpDir = path.join(dir, 'idp');
    for (const sub of ['config', 'metadata', 'log', 'tmp', 'data', 'sessions', 'run']) mkdirSync(path.join(idpDir, sub), { recursive: true });
    for (const sub of ['log', 'tmp', 'data', 'sessions']) chownSync(path.join(idpDir, sub), 33, 33);
    chmodSync(idpDir, 0o755);
    writeFileSync(
      path.join(idpDir, 'sp-metadata.xml'),
      `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${spEntity}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(readFileSync(sp.cert, 'utf8'))}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    <md:AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${site}/Shibboleth.sso/SAML2/POST"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`,
    );
    writeFileSync(path.join(idpDir, 'config/config.php'), idpConfig(idpDir, idpKeys, idpHost, siteHost));
    writeFileSync(path.join(idpDir, 'config/authsources.php'), IDP_AUTHSOURCES);
    writeFileSync(path.join(idpDir, 'metadata/saml20-idp-hosted.php'), idpHosted(idpEntity));
    writeFileSync(path.join(idpDir, 'apache.conf'), idpApache(idpDir, idpHost, ports.idp));
    children.push(daemon('apache2', ['-f', path.join(idpDir, 'apache.conf'), '-DFOREGROUND']));

    // The SP: the production unit's `podman run`, on the host's network here so that it reaches the IdP-less
    // loopback gateway, with the operator's files and the secret where the unit puts them.
    const failed = createPodmanSecret(secretName, secret, podmanEnv);
    if (failed) throw new Error(`podman secret create: ${failed}`);
    const unit = parseUnit(readFileSync(path.join(ROOT, 'quadlets/visp-sp.container'), 'utf8'));
    const spEnv = path.join(dir, 'sp.env');
    writeFileSync(spEnv, `VISP_PUBLIC_URL=${site}\n`);
    const { image, flags } = containerRunArgs('visp-sp.container', unit, {
      secret: () => secretName,
      volume: (source) => (source === '%h/.config/visp/shibboleth' ? operator : source),
      envFile: spEnv,
      // Its health check asks port 8080; here the SP listens where the test says.
      healthCheck: false,
    });
    podman(
      'run', '-d', '--pull', 'never', '--label', `${LABEL.instance}=${process.env.VISP_TEST_INSTANCE_PREFIX ?? 'test-local'}-sso`,
      ...flags.map((flag) => (flag === 'visp-sp' ? container : flag)).filter((flag, i, all) => !(flag === '--network' || all[i - 1] === '--network')),
      '--network', 'host',
      '-e', `VISP_SP_LISTEN=127.0.0.1:${ports.sp}`, '-e', `VISP_GATEWAY_URL=http://127.0.0.1:${ports.gateway}`,
      image,
    );

    // The edge: the Caddyfile visp install writes, on plain HTTP and without Caddy's admin API.
    const caddyDir = path.join(dir, 'caddy');
    mkdirSync(caddyDir);
    writeFileSync(
      path.join(caddyDir, 'Caddyfile'),
      `{\n\tadmin off\n\tauto_https off\n}\n${caddyfile({ sites: [site], gateway: `127.0.0.1:${ports.gateway}`, sp: `127.0.0.1:${ports.sp}` })}`,
    );
    children.push(daemon('caddy', ['run', '--config', path.join(caddyDir, 'Caddyfile'), '--adapter', 'caddyfile'], { ...process.env, HOME: caddyDir, XDG_DATA_HOME: caddyDir, XDG_CONFIG_HOME: caddyDir }));

    const answers = async (port: number, host: string, target: string) => (await loopbackRequest(`http://${host}${target}`, { port }).catch(() => undefined))?.status;
    await waitFor('the IdP', async () => (await answers(ports.idp, idpHost, '/simplesaml/saml2/idp/metadata.php')) === 200, 20_000);
    await waitFor('the SP', async () => {
      if (podman('container', 'inspect', container, '--format', '{{.State.Status}}').trim() === 'exited') throw new Error('the SP container exited');
      return (await answers(ports.sp, siteHost, '/Shibboleth.sso/Status')) === 200;
    }, 30_000);
    await waitFor('the edge', async () => (await answers(ports.edge, siteHost, '/Shibboleth.sso/Status')) === 200, 20_000);
  } catch (err) {
    const logs = spawnSync('podman', ['logs', container], { env: podmanEnv, encoding: 'utf8' });
    stop();
    throw new Error(`${(err as Error).message}\nSP log:\n${logs.stdout}${logs.stderr}`);
  }

  return {
    site,
    siteHost,
    idpHost,
    operatorDir: operator,
    execInSp: (command) => podman('exec', container, 'sh', '-c', command),
    logs: () => {
      const sp = spawnSync('podman', ['logs', container], { env: podmanEnv, encoding: 'utf8' });
      return `SP:\n${sp.stdout}${sp.stderr}`;
    },
    stop,
  };
}

function spConfig(spEntity: string, idpEntity: string): string {
  // As an operator writes it: paths relative to /etc/shibboleth, where the SP container puts these files.
  return `<SPConfig xmlns="urn:mace:shibboleth:3.0:native:sp:config" xmlns:conf="urn:mace:shibboleth:3.0:native:sp:config" clockSkew="180">
  <ApplicationDefaults entityID="${spEntity}" REMOTE_USER="eppn">
    <Sessions lifetime="28800" timeout="3600" relayState="ss:mem" checkAddress="false" handlerSSL="false" cookieProps="http" redirectLimit="exact">
      <SSO entityID="${idpEntity}">SAML2</SSO>
      <Logout>SAML2 Local</Logout>
      <Handler type="Status" Location="/Status" acl="127.0.0.1 ::1"/>
      <Handler type="Session" Location="/Session" showAttributeValues="false"/>
    </Sessions>
    <Errors supportContact="root@localhost" helpLocation="/about.html" styleSheet="/shibboleth-sp/main.css"/>
    <MetadataProvider type="XML" validate="true" path="idp-metadata.xml"/>
    <AttributeExtractor type="XML" validate="true" reloadChanges="false" path="attribute-map.xml"/>
    <AttributeFilter type="XML" validate="true" path="attribute-policy.xml"/>
    <CredentialResolver type="File" use="signing" key="sp-key.pem" certificate="sp-cert.pem"/>
    <CredentialResolver type="File" use="encryption" key="sp-key.pem" certificate="sp-cert.pem"/>
  </ApplicationDefaults>
  <SecurityPolicyProvider type="XML" validate="true" path="security-policy.xml"/>
  <ProtocolProvider type="XML" validate="true" reloadChanges="false" path="protocols.xml"/>
</SPConfig>
`;
}

const ATTRIBUTE_MAP = `<Attributes xmlns="urn:mace:shibboleth:2.0:attribute-map" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Attribute name="urn:oid:1.3.6.1.4.1.5923.1.1.1.6" id="eppn"><AttributeDecoder xsi:type="ScopedAttributeDecoder"/></Attribute>
  <Attribute name="urn:oid:1.3.6.1.4.1.5923.1.1.1.9" id="affiliation"><AttributeDecoder xsi:type="ScopedAttributeDecoder" caseSensitive="false"/></Attribute>
  <Attribute name="urn:oid:0.9.2342.19200300.100.1.3" id="mail"/>
  <Attribute name="urn:oid:2.16.840.1.113730.3.1.241" id="displayName"/>
</Attributes>
`;

const IDP_AUTHSOURCES = `<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        '${IDP_USER.login}:${IDP_USER.password}' => [
            'eduPersonPrincipalName' => ['${IDP_USER.eppn}'],
            'eduPersonScopedAffiliation' => ['${IDP_USER.affiliation}'],
            'mail' => ['${IDP_USER.mail}'],
            'displayName' => ['${IDP_USER.displayName}'],
        ],
    ],
];
`;

const idpHosted = (entity: string) => `<?php
$metadata['${entity}'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp-key.pem',
    'certificate' => 'idp-cert.pem',
    'auth' => 'example-userpass',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
    'authproc' => [100 => ['class' => 'core:AttributeMap', 'name2oid']],
    'scope' => ['visp.localhost'],
];
`;

const idpConfig = (dir: string, keys: string, idpHost: string, siteHost: string) => `<?php
$config = [
    'baseurlpath' => 'http://${idpHost}/simplesaml/',
    'certdir' => '${keys}/',
    'loggingdir' => '${dir}/log/',
    'tempdir' => '${dir}/tmp',
    'datadir' => '${dir}/data/',
    'metadatadir' => '${dir}/metadata/',
    'metadata.sources' => [
        ['type' => 'flatfile', 'directory' => '${dir}/metadata/'],
        ['type' => 'xml', 'file' => '${dir}/sp-metadata.xml'],
    ],
    'attributenamemapdir' => '/etc/simplesamlphp/attributemap/',
    'technicalcontact_name' => 'Test',
    'technicalcontact_email' => 'test@visp.localhost',
    'secretsalt' => '${randomSuffix(16)}',
    'auth.adminpassword' => '${randomSuffix(16)}',
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.savepath' => '${dir}/sessions',
    'store.type' => 'phpsession',
    'logging.level' => SimpleSAML\\Logger::WARNING,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'language.default' => 'en',
    'theme.use' => 'default',
    'trusted.url.domains' => ['${idpHost}', '${siteHost}'],
];
`;

const idpApache = (dir: string, idpHost: string, port: number) => `ServerRoot /etc/apache2
PidFile ${dir}/run/httpd.pid
DefaultRuntimeDir ${dir}/run
Mutex file:${dir}/run default
Listen 127.0.0.1:${port}
ServerName ${idpHost}
UseCanonicalName On
User www-data
Group www-data
ErrorLog ${dir}/log/error.log
LogLevel warn
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
StartServers 2
MinSpareServers 1
MaxSpareServers 3
MaxRequestWorkers 8
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule env_module /usr/lib/apache2/modules/mod_env.so
LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so
TypesConfig /etc/mime.types
DirectoryIndex index.php
SetEnv SIMPLESAMLPHP_CONFIG_DIR ${dir}/config
Alias /simplesaml /usr/share/simplesamlphp/www
<Directory /usr/share/simplesamlphp/www>
  Require all granted
  <FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
  </FilesMatch>
</Directory>
php_admin_value session.save_path ${dir}/sessions
php_admin_value error_log ${dir}/log/php.log
`;
