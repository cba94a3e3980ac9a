// The whole product as containers on Podman networks, from the production quadlets (quadlets/ is the one source
// of truth): each `.container` unit becomes the `podman run` quadlet would generate, with only what a host
// without systemd, registry or rootless Podman needs changed, each change listed in DEVIATIONS. Used by the e2e
// tests and by `npm start -- --containers`. Everything carries the stack's instance label, for clean-up.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LABEL } from '@visp/contracts';
import { gatewayRepositoriesDropIn } from './drop-ins';
import { createPodmanSecret } from './secrets';

/** What differs from production here, and why. */
export const DEVIATIONS = [
  'registry images (Redis, MongoDB) are replaced by local stand-ins: localhost/visp-test-redis, localhost/visp-test-ferretdb',
  'Caddy and the optional Whisper server are left out: the test talks to the gateway on a port published on 127.0.0.1',
  'UserNS=keep-id is dropped: Podman here runs as root, where keep-id does not exist (uid 1000 is the same user in every container anyway)',
  "the Podman socket is the launcher's, made reachable for the socket proxy's user 1000",
  "secret names get the run's suffix, so runs never share a secret",
];

/**
 * Local stand-ins for the registry images the quadlets name, for the containerised stack: Redis from Debian and
 * FerretDB for MongoDB (Caddy is left out: the tests talk to the gateway directly).
 */
export const STAND_INS: Readonly<Record<string, string>> = { 'docker.io/library/redis': 'localhost/visp-test-redis:1', 'docker.io/library/mongo': 'localhost/visp-test-ferretdb:1' };
/** Start order: what the others need first. */
const ORDER = ['redis', 'mongo', 'socket-proxy', 'session-manager', 'recovery', 'whisper-worker', 'gateway'] as const;
export type StackService = (typeof ORDER)[number];

export type Unit = Map<string, Array<[string, string]>>;

/** A systemd unit file: sections of key=value lines, keys repeatable, in order. */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      unit.set(section, unit.get(section) ?? []);
      continue;
    }
    const eq = line.indexOf('=');
    unit.get(section)?.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return unit;
}

/**
 * The settings that let the services' network (visp-net, where Caddy is and no session is) and nothing else speak
 * for a client to the gateway and read the services' `/readyz` and `/metrics`: `visp install` and the container
 * stack both use them.
 */
export function servicesNetworkPeers(quadlets: string): { TRUSTED_PROXY_CIDRS: string; OPERATIONS_CIDRS: string } {
  const subnet = parseUnit(readFileSync(path.join(quadlets, 'visp-net.network'), 'utf8')).get('Network')?.find(([key]) => key === 'Subnet')?.[1];
  if (!subnet) throw new Error(`${quadlets}/visp-net.network has no Subnet=: the services could not tell Caddy from a session`);
  return { TRUSTED_PROXY_CIDRS: subnet, OPERATIONS_CIDRS: subnet };
}

/** Splits a command line as systemd does for Exec=: whitespace outside single or double quotes. */
export function splitCommand(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? (m[3] as string));
}

export interface ContainerStack {
  instance: string;
  /** `http://127.0.0.1:<port>`: the gateway. */
  url: string;
  /** Values of the stack's secrets, by their production name (visp-service-token, …). */
  secrets: Record<string, string>;
  /** `podman run` arguments each service was started with (for the test's own checks). */
  commands: Record<StackService, string[]>;
  podman(...args: string[]): string;
  /** Kills a service's container (`podman kill`) or starts it again from the same arguments. */
  kill(service: StackService): void;
  start(service: StackService): void;
  /** Every container's log, for artifacts when a test fails. */
  logs(): Record<string, string>;
  stop(): Promise<void>;
}

export interface StackSettings {
  /** The repository's quadlets/ directory. */
  quadlets: string;
  /** Labels everything the stack makes; its sessions run as this instance. */
  instance: string;
  /** The Podman API socket the socket proxy hands on (a path). */
  podmanSocket: string;
  gatewayPort: number;
  /** Plain settings on top of the EnvironmentFile's. */
  env?: Record<string, string>;
  /** The login key of AUTH_MODE=dev-key; random when not given. */
  loginKey?: string;
  /** The environment for the local `podman` command (CONTAINERS_CONF; not a remote CONTAINER_HOST). */
  podmanEnv: NodeJS.ProcessEnv;
  /**
   * The projects' repositories on the host, as `visp install --project-repositories` sets them up: their
   * PROJECT_REPOSITORIES_DIR, and the gateway's drop-in that mounts them.
   */
  projectRepositories?: string;
}

const randomSuffix = (bytes: number) => randomBytes(bytes).toString('hex');

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Quadlet keys whose value `podman run` takes as it is, after this flag. */
const SAME_AS_RUN = new Map([
  ['Environment', '-e'],
  ['HealthInterval', '--health-interval'],
  ['HealthStartPeriod', '--health-start-period'],
  ['PidsLimit', '--pids-limit'],
  ['Label', '--label'],
  ['AddHost', '--add-host'],
  ['StopTimeout', '--stop-timeout'],
]);

/** How `containerRunArgs` maps what depends on the host: secret names, volume sources, the environment file. */
export interface RunContext {
  /** Podman's name of a quadlet `Secret=` (the stack gives each run's secrets a suffix). */
  secret(name: string): string;
  /** A `Volume=` source as `podman run -v` takes it (`%h/…`, `%t/…` or `x.volume`); may create the volume. */
  volume(source: string): string;
  /** What `EnvironmentFile=` is here. */
  envFile: string;
  /** Keep the unit's `HealthCmd=` (default true). */
  healthCheck?: boolean;
}

/**
 * The `podman run` that Podman's quadlet generator would make of a `.container` unit's [Container] section: the
 * container's name, its image, the flags, and the command. An unknown key is an error, so that a unit cannot use
 * something this translation (and so every test that runs it) silently leaves out.
 */
export function containerRunArgs(file: string, unit: Unit, context: RunContext): { name: string; image: string; flags: string[]; exec: string[] } {
  const flags: string[] = [];
  let [name, image, exec] = ['', '', [] as string[]];
  for (const [key, value] of unit.get('Container') ?? []) {
    const flag = SAME_AS_RUN.get(key);
    if (flag) {
      flags.push(flag, value);
      continue;
    }
    switch (key) {
      case 'ContainerName':
        name = value;
        flags.push('--name', value);
        break;
      case 'Image':
        image = value;
        break;
      case 'Network':
        // `x.network` is the network unit x's (NetworkName= here is always the unit's name); `:ip=…` options stay.
        flags.push('--network', value.replace(/\.network(?=$|:)/, ''));
        break;
      case 'Volume': {
        const [source = '', ...rest] = value.split(':');
        flags.push('-v', [context.volume(source), ...rest].join(':'));
        break;
      }
      case 'Secret': {
        const [secret = '', ...options] = value.split(',');
        flags.push('--secret', [context.secret(secret), ...options].join(','));
        break;
      }
      case 'EnvironmentFile':
        flags.push('--env-file', context.envFile);
        break;
      case 'HealthCmd':
        if (context.healthCheck !== false) flags.push('--health-cmd', value);
        break;
      case 'PodmanArgs':
        flags.push(...splitCommand(value));
        break;
      case 'NoNewPrivileges':
        if (value === 'true') flags.push('--security-opt', 'no-new-privileges');
        break;
      case 'DropCapability':
        flags.push(...value.split(/\s+/).flatMap((cap) => ['--cap-drop', cap.toLowerCase()]));
        break;
      case 'AddCapability':
        flags.push(...value.split(/\s+/).flatMap((cap) => ['--cap-add', cap.toLowerCase()]));
        break;
      case 'ReadOnly':
        if (value === 'true') flags.push('--read-only');
        break;
      case 'Tmpfs':
        flags.push('--tmpfs', value);
        break;
      case 'Exec':
        exec = splitCommand(value);
        break;
      case 'UserNS':
      case 'Pull':
        break;
      default:
        throw new Error(`${file}: the stack launcher does not know ${key}= (teach it, as quadlet would)`);
    }
  }
  return { name, image, flags, exec };
}

/** Builds the stack from quadlets/ and starts it; resolves when the gateway is ready. */
export async function startContainerStack(settings: StackSettings): Promise<ContainerStack> {
  const stack = derive(settings);
  try {
    shareLauncherSocket(settings.podmanSocket);
    createNetworks(stack);
    createSecrets(stack);
    removeLeftovers(stack);
    const commands = await startServices(stack);
    await waitForGateway(stack.url);
    return controls(stack, commands);
  } catch (err) {
    await tearDown(stack);
    throw err;
  }
}

/** One run of the stack: what every step shares, decided once. */
interface StackRun {
  settings: StackSettings;
  /** The suffix of this run's secret names. */
  run: string;
  /** The temporary directory of the run's files (its environment file). */
  work: string;
  envFile: string;
  /** The label on the stack's own containers, networks and volumes, and the flags that set it. */
  label: string;
  labels: string[];
  /** Values of the stack's secrets, by their production name. */
  secrets: Record<string, string>;
  url: string;
  /** Runs `podman`; a failure throws with what it said. */
  podman(...args: string[]): string;
  /** Runs `podman` for something that may well fail (removing what may not be there). */
  quietly(...args: string[]): void;
}

/** Derive: names, labels, secret values and settings of this run, and its environment file, made before anything starts. */
function derive(settings: StackSettings): StackRun {
  const { instance, quadlets } = settings;
  const run = randomSuffix(3);
  const env = settings.podmanEnv;
  const work = mkdtempSync(path.join(tmpdir(), 'visp-stack-'));
  // The stack's own containers, networks and volumes: marked for the runner's clean-up, under an instance of their
  // own so that recovery (which manages the sessions of `instance`) never takes them for sessions.
  const label = `${LABEL.instance}=${instance}-infra`;
  const labels = ['--label', label, '--label', `${LABEL.managed}=true`];

  const token = () => randomSuffix(24);
  const redisPassword = token();
  const secrets: Record<string, string> = {
    'visp-service-token': token(),
    'visp-cookie-secret': token(),
    'visp-test-user-login-key': settings.loginKey ?? token(),
    'visp-sso-proxy-secret': token(),
    'visp-redis-password': redisPassword,
    'visp-redis-url': `redis://:${redisPassword}@visp-redis:6379`,
    'visp-mongo-password': token(),
    'visp-mongo-uri': 'mongodb://visp-mongo:27017/visp',
  };
  const envFile = path.join(work, 'visp.env');
  const repositories = settings.projectRepositories ? { PROJECT_REPOSITORIES_DIR: settings.projectRepositories } : {};
  const plain = { AUTH_MODE: 'dev-key', ALLOW_DEV_KEY_IN_PRODUCTION: 'true', INSTANCE_ID: instance, LOG_LEVEL: 'info', LOGIN_RATE_LIMIT: '1000', ...servicesNetworkPeers(quadlets), ...repositories, ...settings.env };
  writeFileSync(envFile, Object.entries(plain).map(([k, v]) => `${k}=${v}`).join('\n'));

  return {
    settings,
    run,
    work,
    envFile,
    label,
    labels,
    secrets,
    url: `http://127.0.0.1:${settings.gatewayPort}`,
    // stderr kept for the error (Podman 4.3 without systemd complains about healthcheck timers on every run).
    podman: (...args) => execFileSync('podman', args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] }),
    quietly: (...args) => void spawnSync('podman', args, { env }),
  };
}

/** The launcher's socket is root's; the socket proxy runs as user 1000 (its own directory keeps others out). */
function shareLauncherSocket(podmanSocket: string): void {
  chmodSync(podmanSocket, 0o666);
}

/**
 * The `podman network create` flags quadlet would make of a `.network` unit's [Network] section, and its name; an
 * unknown key is an error, as for containers. The unit's labels are left to the caller (the stack marks its own).
 */
export function networkCreateArgs(file: string, unit: Unit): { name: string; flags: string[] } {
  const flags: string[] = [];
  let name = '';
  for (const [key, value] of unit.get('Network') ?? []) {
    switch (key) {
      case 'NetworkName':
        name = value;
        break;
      case 'Subnet':
        flags.push('--subnet', value);
        break;
      case 'IPRange':
        flags.push('--ip-range', value);
        break;
      case 'Internal':
        if (value === 'true') flags.push('--internal');
        break;
      case 'DisableDNS':
        if (value === 'true') flags.push('--disable-dns');
        break;
      case 'Label':
        break;
      default:
        throw new Error(`${file}: the stack launcher does not know ${key}= (teach it, as quadlet would)`);
    }
  }
  return { name, flags };
}

/** Network: each `.network` unit made anew, so that its subnet, range and flags are the unit's. */
function createNetworks(stack: StackRun): void {
  const { quadlets } = stack.settings;
  for (const file of readdirSync(quadlets).filter((f) => f.endsWith('.network'))) {
    const { name, flags } = networkCreateArgs(file, parseUnit(readFileSync(path.join(quadlets, file), 'utf8')));
    stack.quietly('network', 'rm', '--force', name);
    stack.podman('network', 'create', ...stack.labels, ...flags, name);
  }
}

/** Secrets: Podman secrets under this run's names, so that runs never share one. */
function createSecrets(stack: StackRun): void {
  for (const [name, value] of Object.entries(stack.secrets)) {
    const failed = createPodmanSecret(`${name}-${stack.run}`, value, stack.settings.podmanEnv);
    if (failed) throw new Error(`podman secret create ${name}-${stack.run}: ${failed}`);
  }
}

/**
 * Throwaway data: containers a killed run left under the same names go first, or the new stack would start on the
 * old one's database (seen: a failed session of an earlier run on the start page). Volumes: freshVolumes.
 */
function removeLeftovers(stack: StackRun): void {
  for (const service of ORDER) stack.quietly('rm', '--force', '--time', '2', `visp-${service}`);
}

/** Start: one service at a time, in ORDER, each up before the next, which may need it as it starts. */
async function startServices(stack: StackRun): Promise<Record<StackService, string[]>> {
  const commands = {} as Record<StackService, string[]>;
  const volume = freshVolumes(stack);
  for (const service of ORDER) {
    // No container of this name is left to remove: removeLeftovers took them all before any volume was emptied.
    const { name, command } = runCommand(stack, service, volume);
    commands[service] = command;
    stack.podman(...command);
    await waitFor(`${name} to be up`, () => healthy(name, service, stack.settings.podmanEnv), 120_000);
  }
  return commands;
}

/** Build: the `podman run` quadlet would make of a service's unit, with this run's secrets, volumes and stand-ins. */
function runCommand(stack: StackRun, service: StackService, volume: RunContext['volume']): { name: string; command: string[] } {
  const file = `visp-${service}.container`;
  // Drop-ins come after the unit, as quadlet reads them: their keys add to the unit's.
  const unit = parseUnit([readFileSync(path.join(stack.settings.quadlets, file), 'utf8'), ...dropIns(stack.settings)[service]].join('\n'));
  const { name, image, flags, exec } = containerRunArgs(file, unit, {
    secret: (secret) => `${secret}-${stack.run}`,
    volume,
    envFile: stack.envFile,
    // The FerretDB stand-in has no mongosh; its port is checked instead (see healthy()).
    healthCheck: service !== 'mongo',
  });
  const args = ['run', '-d', '--pull', 'never', ...stack.labels, ...flags];
  if (service === 'gateway') args.push('-p', `127.0.0.1:${stack.settings.gatewayPort}:8080`);
  return { name, command: [...args, STAND_INS[image.replace(/:[^/:]+$/, '')] ?? image, ...exec] };
}

/** The drop-ins `visp install` would write beside each unit for these settings. */
function dropIns(settings: StackSettings): Record<StackService, string[]> {
  const byService = Object.fromEntries(ORDER.map((service) => [service, [] as string[]])) as Record<StackService, string[]>;
  if (settings.projectRepositories) byService.gateway.push(gatewayRepositoriesDropIn(settings.projectRepositories));
  return byService;
}

/** Volumes as this run mounts them: Podman's socket is the launcher's; a named volume is emptied on first use (throwaway data). */
function freshVolumes(stack: StackRun): RunContext['volume'] {
  const fresh = new Set<string>();
  return (source) => {
    const from = source === '%t/podman/podman.sock' ? stack.settings.podmanSocket : source.replace(/\.volume$/, '');
    if (!from.startsWith('/') && !fresh.has(from)) {
      stack.quietly('volume', 'rm', '--force', from);
      stack.quietly('volume', 'create', ...stack.labels, from);
      fresh.add(from);
    }
    return from;
  };
}

/** Wait: the gateway's /readyz answers 200 only once what it depends on does. */
async function waitForGateway(url: string): Promise<void> {
  await waitFor('the gateway to be ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 60_000);
}

/** What the tests hold: the run's facts, and kill, start, logs and stop of its services. */
function controls(stack: StackRun, commands: Record<StackService, string[]>): ContainerStack {
  const { podman } = stack;
  const env = stack.settings.podmanEnv;
  const containers = () => podman('ps', '--all', '--filter', `label=${stack.label}`, '--format', '{{.Names}}').split('\n').filter(Boolean);
  return {
    instance: stack.settings.instance,
    url: stack.url,
    secrets: stack.secrets,
    commands,
    podman,
    kill: (service) => void podman('kill', `visp-${service}`),
    start: (service) => {
      // Not quietly: when the old container will not go, the run below fails on its name, and this says why. Stopped
      // as systemd stops it, within the unit's StopTimeout.
      podman('rm', '--force', '--ignore', `visp-${service}`);
      podman(...commands[service]);
    },
    logs: () => Object.fromEntries(containers().map((c) => [c, spawnSync('podman', ['logs', c], { encoding: 'utf8', env }).stdout])),
    stop: () => tearDown(stack),
  };
}

/** Tear down: the sessions' containers and home volumes go first, then the stack's own, then its networks. */
async function tearDown(stack: StackRun): Promise<void> {
  const names = (list: string[], filter: string, field: string) => stack.podman(...list, '--filter', `label=${filter}`, '--format', `{{.${field}}}`).split('\n').filter(Boolean);
  // The services first: a session-manager still running could start a session after its instance's were listed.
  const filters = [stack.label, `${LABEL.instance}=${stack.settings.instance}`];
  for (const filter of filters) {
    for (const c of names(['ps', '--all'], filter, 'Names')) stack.quietly('rm', '--force', '--time', '5', c);
    for (const v of names(['volume', 'ls'], filter, 'Name')) stack.quietly('volume', 'rm', '--force', v);
  }
  // The stack's networks and the sessions' own (the containers on them are gone by now).
  for (const filter of filters) {
    for (const network of names(['network', 'ls'], filter, 'Name')) stack.quietly('network', 'rm', '--force', network);
  }
  for (const name of Object.keys(stack.secrets)) stack.quietly('secret', 'rm', `${name}-${stack.run}`);
  rmSync(stack.work, { recursive: true, force: true });
}

/** Up: its health check passes, or, for a stand-in without one, it is running and its port answers. */
function healthy(name: string, service: StackService, env: NodeJS.ProcessEnv): boolean {
  const state = spawnSync('podman', ['container', 'inspect', name, '--format', '{{.State.Status}}'], { encoding: 'utf8', env }).stdout.trim();
  if (state === 'exited') throw new Error(`${name} exited: ${spawnSync('podman', ['logs', name], { encoding: 'utf8', env }).stderr.slice(-2000)}`);
  if (service === 'mongo') return state === 'running' && spawnSync('podman', ['exec', name, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/27017'], { env }).status === 0;
  return spawnSync('podman', ['healthcheck', 'run', name], { env }).status === 0;
}
