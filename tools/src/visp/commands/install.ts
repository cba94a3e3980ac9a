import { homedir } from 'node:os';
import type { VispCommand } from '../cli';
import { OperatorError } from '../host';
import { install as installHere } from '../install';
import { QUADLETS } from '../../paths';

export const install: VispCommand = {
  names: ['install'],
  usage:
    'visp install [--domain NAME [--app-host] [--sessions-cert FILE --sessions-key FILE | --sessions-on-gateway-origin]] [--auth shibboleth|dev-key] [--shibboleth-dir DIR] [--admins a,b] [--project-repositories DIR] [--with-whisper-server] [--no-start] [--dry-run] [--json]',
  description: [
    'Links quadlets/ into ~/.config/containers/systemd, writes ~/.config/visp/{visp.env,Caddyfile}, generates',
    'missing secrets into ~/.config/visp/.env.secrets (0600), makes them Podman secrets, reloads systemd and starts.',
    '--app-host also serves app.NAME, where VISP’s webclient opens sessions (by its SessionAccessCode cookie).',
    '--sessions-cert/--sessions-key: a certificate and key for *.NAME, where each session is served on its own',
    'origin (needs a wildcard DNS record); --sessions-on-gateway-origin goes without, at a cost (docs/security.md).',
    '--shibboleth-dir DIR: the Shibboleth SP files (shibboleth2.xml, attribute-map.xml, IdP metadata, SP key pair)',
    'for the bundled SP (visp-sp), which --auth shibboleth (the default) runs in front of the sign-in.',
    '--project-repositories DIR: one directory per project (VISP’s mounts/repositories), each mounted read-write at',
    '<home>/project in that project’s sessions (PROJECT_REPOSITORIES_DIR), and in the gateway at the same path (a',
    'drop-in, visp-gateway.container.d/repositories.conf), which transcribes VISP’s bundles there and writes their',
    'transcripts beside them; the session user must be able to write it (docs/deployment.md). Like every setting',
    'here, give it again on a reinstall.',
  ],
  options: [
    { flag: '--domain', value: 'NAME' },
    { flag: '--app-host' },
    { flag: '--sessions-cert', value: 'FILE' },
    { flag: '--sessions-key', value: 'FILE' },
    { flag: '--sessions-on-gateway-origin' },
    { flag: '--auth', value: 'shibboleth|dev-key' },
    { flag: '--shibboleth-dir', value: 'DIR' },
    { flag: '--admins', value: 'a,b' },
    { flag: '--project-repositories', value: 'DIR' },
    { flag: '--with-whisper-server' },
    { flag: '--no-start' },
    { flag: '--dry-run' },
    { flag: '--json' },
  ],
  run({ args, print }) {
    const auth = args.value('--auth') ?? 'shibboleth';
    if (auth !== 'shibboleth' && auth !== 'dev-key') throw new OperatorError(`--auth ${auth}: not shibboleth or dev-key`);
    if (args.has('--app-host') && !args.value('--domain')) throw new OperatorError('--app-host serves app.<domain>: it needs --domain');
    const [cert, key] = [args.value('--sessions-cert'), args.value('--sessions-key')];
    if ((cert === undefined) !== (key === undefined)) throw new OperatorError('--sessions-cert and --sessions-key go together');
    const actions = installHere({
      quadlets: QUADLETS,
      home: homedir(),
      domain: args.value('--domain'),
      auth,
      shibbolethDir: args.value('--shibboleth-dir'),
      admins: (args.value('--admins') ?? '').split(',').filter(Boolean),
      projectRepositories: args.value('--project-repositories'),
      withWhisperServer: args.has('--with-whisper-server'),
      appHost: args.has('--app-host'),
      sessionsCert: cert !== undefined && key !== undefined ? { cert, key } : undefined,
      sessionsOnGatewayOrigin: args.has('--sessions-on-gateway-origin'),
      dryRun: args.has('--dry-run'),
      start: !args.has('--no-start'),
    });
    print({ actions }, actions.map((a) => `${args.has('--dry-run') ? 'would ' : ''}${a}`).join('\n'));
    return 0;
  },
};
