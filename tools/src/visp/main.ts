// visp: the operator's command line for a rootless Podman host (quadlets/, containerfiles/). Every command has
// --help; those whose output is data have --json; any failure exits non-zero with what to do about it.
import { homedir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../paths';
import { audit } from './audit';
import { backup, restore } from './backup';
import { doctor, formatChecks } from './doctor';
import { attached, OperatorError } from './host';
import { configDir, install, uninstall } from './install';
import { drift, formatStatus, imageLock, lifecycle, networkCheck, resolveService, sessions, status, writeImageLock } from './ops';

const QUADLETS = path.join(ROOT, 'quadlets');

const HELP: Record<string, string> = {
  doctor: 'visp doctor [--json]\n  Checks Podman (≥ 4.4 for quadlets), netavark, aardvark-dns, the API socket, lingering, subuid/subgid,\n  cgroups and low ports; prints each failure with its fix. Exit 1 when something must be fixed.',
  install: 'visp install [--domain NAME [--app-host] [--sessions-cert FILE --sessions-key FILE | --sessions-on-gateway-origin]] [--auth shibboleth|dev-key] [--shibboleth-dir DIR] [--admins a,b] [--with-whisper-server] [--no-start] [--dry-run] [--json]\n  Links quadlets/ into ~/.config/containers/systemd, writes ~/.config/visp/{visp.env,Caddyfile}, generates\n  missing secrets into ~/.config/visp/.env.secrets (0600), makes them Podman secrets, reloads systemd and starts.\n  --app-host also serves app.NAME, where VISP’s webclient opens sessions (by its SessionAccessCode cookie).\n  --sessions-cert/--sessions-key: a certificate and key for *.NAME, where each session is served on its own\n  origin (needs a wildcard DNS record); --sessions-on-gateway-origin goes without, at a cost (docs/security.md).\n  --shibboleth-dir DIR: the Shibboleth SP files (shibboleth2.xml, attribute-map.xml, IdP metadata, SP key pair)\n  for the bundled SP (visp-sp), which --auth shibboleth (the default) runs in front of the sign-in.',
  uninstall: 'visp uninstall [--purge] [--no-stop] [--dry-run] [--json]\n  Stops the services, removes the units and Podman secrets. --purge also removes volumes and settings.',
  status: 'visp status [--json]\n  Units, containers with health, networks and running sessions.',
  logs: 'visp logs [SERVICE] [-f]\n  The services\' journal (all of them without SERVICE); -f follows.',
  start: 'visp start|stop|restart [SERVICE]\n  The whole deployment, or one service.',
  shell: 'visp shell SERVICE | visp exec SERVICE COMMAND...\n  A shell, or a command, inside a service\'s container.',
  network: 'visp network [--json]\n  The network backend, the two fixed networks (visp-whisper internal; each session has one of its own) and service-name DNS.',
  sessions: 'visp sessions [list | stop SID] [--url URL] [--token TOKEN] [--json]\n  Everyone\'s sessions through the gateway\'s admin API (VISP_URL, VISP_TOKEN: an admin\'s API token).',
  drift: 'visp drift [--strict] [--accept] [--json]\n  Uncommitted changes, commits ahead/behind, and containers running another image than their unit names now\n  or than ~/.config/visp/images.lock.json recorded (at install, or by --accept). --strict fails on any difference.',
  audit: 'visp audit [--json]\n  Containerfiles and quadlets: unpinned base images, unversioned clones, unpinned installs, pipes into a shell.',
  backup: 'visp backup --out DIR [--mongo-uri URI] [--volumes a,b] [--json]\n  The database (every collection, with indexes) and the users\' volumes, with a manifest of checksums.',
  restore: 'visp restore DIR [--mongo-uri URI] [--json]\n  Into an empty database and volumes that do not exist yet; checks the archives first.',
};
HELP.stop = HELP.start as string;
HELP.restart = HELP.start as string;
HELP.exec = HELP.shell as string;

const USAGE = `usage: visp <command> [options]   (visp <command> --help for each)\n\n${Object.entries(HELP)
  .filter(([name]) => !['stop', 'restart', 'exec'].includes(name))
  .map(([, text]) => `  ${text.split('\n')[0]}`)
  .join('\n')}`;

class Args {
  constructor(private readonly argv: string[]) {}
  has(flag: string): boolean {
    return this.argv.includes(flag);
  }
  value(flag: string): string | undefined {
    const i = this.argv.indexOf(flag);
    return i >= 0 ? this.argv[i + 1] : undefined;
  }
  /** Arguments that are neither flags nor their values. */
  positional(valued: readonly string[] = []): string[] {
    return this.argv.filter((a, i) => !a.startsWith('-') && !valued.includes(this.argv[i - 1] ?? ''));
  }
}

function print(json: boolean, data: unknown, text: string): void {
  process.stdout.write(`${json ? JSON.stringify(data, null, 2) : text}\n`);
}

const mongoUri = (args: Args) => {
  const uri = args.value('--mongo-uri') ?? process.env.MONGO_URI;
  if (!uri) throw new OperatorError('no database given', 'pass --mongo-uri, or set MONGO_URI (the value of the visp-mongo-uri secret, reachable from here)');
  return uri;
};

async function run(command: string, args: Args): Promise<number> {
  const json = args.has('--json');
  switch (command) {
    case 'doctor': {
      const checks = doctor();
      print(json, checks, formatChecks(checks));
      return checks.some((c) => !c.ok && !c.warning) ? 1 : 0;
    }
    case 'install': {
      const auth = args.value('--auth') ?? 'shibboleth';
      if (auth !== 'shibboleth' && auth !== 'dev-key') throw new OperatorError(`--auth ${auth}: not shibboleth or dev-key`);
      if (args.has('--app-host') && !args.value('--domain')) throw new OperatorError('--app-host serves app.<domain>: it needs --domain');
      const [cert, key] = [args.value('--sessions-cert'), args.value('--sessions-key')];
      if ((cert === undefined) !== (key === undefined)) throw new OperatorError('--sessions-cert and --sessions-key go together');
      const actions = install({
        quadlets: QUADLETS,
        home: homedir(),
        domain: args.value('--domain'),
        auth,
        shibbolethDir: args.value('--shibboleth-dir'),
        admins: (args.value('--admins') ?? '').split(',').filter(Boolean),
        withWhisperServer: args.has('--with-whisper-server'),
        appHost: args.has('--app-host'),
        sessionsCert: cert !== undefined && key !== undefined ? { cert, key } : undefined,
        sessionsOnGatewayOrigin: args.has('--sessions-on-gateway-origin'),
        dryRun: args.has('--dry-run'),
        start: !args.has('--no-start'),
      });
      print(json, { actions }, actions.map((a) => `${args.has('--dry-run') ? 'would ' : ''}${a}`).join('\n'));
      return 0;
    }
    case 'uninstall': {
      const actions = uninstall({ quadlets: QUADLETS, home: homedir(), purge: args.has('--purge'), dryRun: args.has('--dry-run'), stop: !args.has('--no-stop') });
      print(json, { actions }, actions.join('\n') || 'nothing to remove');
      return 0;
    }
    case 'status': {
      const report = status(QUADLETS);
      print(json, report, formatStatus(report));
      return report.containers.some((c) => c.health === 'unhealthy') ? 1 : 0;
    }
    case 'logs': {
      const [service] = args.positional();
      const units = service ? ['-u', `${resolveService(QUADLETS, service)}.service`] : ['-u', 'visp-*'];
      return attached('journalctl', ['--user', ...units, '--no-pager', ...(args.has('-f') || args.has('--follow') ? ['-f'] : ['-n', '200'])]);
    }
    case 'start':
    case 'stop':
    case 'restart':
      lifecycle(QUADLETS, command, args.positional()[0]);
      return 0;
    case 'shell': {
      const [service] = args.positional();
      if (!service) throw new OperatorError('which service?', HELP.shell);
      return attached('podman', ['exec', '-it', resolveService(QUADLETS, service), 'sh']);
    }
    case 'exec': {
      const [service, ...rest] = process.argv.slice(3);
      if (!service || rest.length === 0) throw new OperatorError('which service, and what command?', HELP.exec);
      return attached('podman', ['exec', resolveService(QUADLETS, service), ...rest]);
    }
    case 'network': {
      const report = networkCheck();
      const text = [`backend: ${report.backend}`, ...report.networks.map((n) => `${n.name}: ${n.exists ? (n.internal ? 'internal' : 'routed') : 'missing'}${n.exists && n.internal !== n.expectedInternal ? ` (should be ${n.expectedInternal ? 'internal' : 'routed'})` : ''}`), ...report.dns.map((d) => `dns ${d.name}: ${d.resolves ? 'resolves' : 'does not resolve'}`)];
      print(json, report, text.join('\n'));
      return report.ok ? 0 : 1;
    }
    case 'sessions': {
      const [action, sid] = args.positional(['--url', '--token']);
      const url = args.value('--url') ?? process.env.VISP_URL;
      const token = args.value('--token') ?? process.env.VISP_TOKEN;
      if (!url || !token) throw new OperatorError('the gateway URL and an admin API token are needed', 'pass --url and --token, or set VISP_URL and VISP_TOKEN');
      if (action === 'stop' && !sid) throw new OperatorError('which session?', HELP.sessions);
      const result = await sessions(url, token, action === 'stop' ? { stop: sid } : {});
      const list = (result as { sessions?: Array<{ sid: string; owner: string; type: string; state: string }> }).sessions;
      print(json, result, list ? list.map((s) => `${s.sid}  ${s.owner.padEnd(20)} ${s.type.padEnd(10)} ${s.state}`).join('\n') || 'no sessions' : `stopped ${sid}`);
      return 0;
    }
    case 'drift': {
      const lockFile = path.join(configDir(homedir()), 'images.lock.json');
      if (args.has('--accept')) {
        writeImageLock(lockFile, imageLock(QUADLETS));
        print(json, { lockFile }, `recorded the images now on this host in ${lockFile}`);
        return 0;
      }
      const report = drift(ROOT, lockFile);
      const text = [
        `uncommitted changes: ${report.uncommitted.length}`,
        `commits ahead: ${report.ahead}, behind: ${report.behind}`,
        ...report.images.map((i) => `${i.container} runs ${i.running}, its image is now ${i.current}: restart it`),
        ...report.locked.map((i) => `${i.container} runs ${i.running}, the lock file says ${i.locked}: restart it, or visp drift --accept`),
      ];
      print(json, report, text.join('\n'));
      const different = report.images.length > 0 || report.locked.length > 0 || (args.has('--strict') && (report.uncommitted.length > 0 || report.ahead > 0 || report.behind > 0));
      return different ? 1 : 0;
    }
    case 'audit': {
      const findings = audit(ROOT);
      print(json, findings, findings.map((f) => `${f.file}:${f.line}: ${f.problem}\n    ${f.text}`).join('\n') || 'nothing unpinned');
      return findings.length > 0 ? 1 : 0;
    }
    case 'backup': {
      const out = args.value('--out');
      if (!out) throw new OperatorError('where to?', HELP.backup);
      const manifest = await backup({ out, mongoUri: mongoUri(args), volumes: args.value('--volumes')?.split(',').filter(Boolean) });
      print(json, manifest, `backed up ${manifest.collections.reduce((n, c) => n + c.documents, 0)} documents in ${manifest.collections.length} collections and ${manifest.volumes.length} volumes to ${out}`);
      return 0;
    }
    case 'restore': {
      const [from] = args.positional(['--mongo-uri']);
      if (!from) throw new OperatorError('from where?', HELP.restore);
      const manifest = await restore({ from, mongoUri: mongoUri(args) });
      print(json, manifest, `restored ${manifest.collections.length} collections and ${manifest.volumes.length} volumes from ${from}`);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command = '', ...rest] = argv;
  const args = new Args(rest);
  if (command === '--help' || command === 'help' || command === '') {
    process.stdout.write(`${USAGE}\n`);
    return command === '' ? 2 : 0;
  }
  if (args.has('--help') || args.has('-h')) {
    const help = HELP[command];
    process.stdout.write(`${help ?? USAGE}\n`);
    return help ? 0 : 2;
  }
  try {
    return await run(command, args);
  } catch (err) {
    if (!(err instanceof OperatorError)) throw err;
    process.stderr.write(`visp ${command}: ${err.message}\n${err.fix ? `  fix: ${err.fix}\n` : ''}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`visp: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
