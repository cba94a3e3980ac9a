/**
 * What a client of the socket proxy may ask of Podman. Requests are reduced to an operation (the same for the
 * Docker-compatible and the libpod API, versioned or not) before any rule is looked at, so no spelling of a path
 * can slip past one.
 */

import path from 'node:path';

export type Api = 'compat' | 'libpod';

export const OPERATIONS = [
  'ping', 'version',
  'container.list', 'container.create', 'container.inspect', 'container.start', 'container.stop', 'container.wait',
  'container.remove', 'container.logs', 'container.attach',
  'exec.create', 'exec.start', 'exec.inspect',
  'image.list', 'image.inspect', 'image.pull',
  'volume.list', 'volume.create', 'volume.inspect', 'volume.remove', 'volume.prune',
  'network.list', 'network.create', 'network.inspect', 'network.remove', 'network.connect', 'network.disconnect',
  'events',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * The query parameters each operation may carry (what the services send, nothing more). A parameter can change
 * what a call does as much as its body: `force` on a network or volume removal makes Podman remove every container
 * using it, the gateway's among them. Operations whose body the proxy checks are sent on with a query of its own
 * making (dockerode repeats a create's whole body in its query), so theirs are not looked at here.
 */
const QUERY_PARAMS: Record<Operation, readonly string[]> = {
  ping: [],
  version: [],
  'container.list': ['all', 'filters', 'limit', 'size'],
  'container.create': ['name'],
  'container.inspect': [],
  'container.start': [],
  'container.stop': ['t'],
  'container.wait': ['condition'],
  'container.remove': ['force', 'v'],
  'container.logs': ['stdout', 'stderr', 'follow', 'tail', 'timestamps', 'since', 'until'],
  'container.attach': ['stream', 'stdout', 'stderr', 'stdin', 'logs', 'detachKeys'],
  'exec.create': [],
  'exec.start': [],
  'exec.inspect': [],
  'image.list': ['all', 'filters'],
  'image.inspect': [],
  'image.pull': [],
  'volume.list': ['filters'],
  'volume.create': [],
  'volume.inspect': [],
  'volume.remove': [],
  'volume.prune': [],
  'network.list': ['filters'],
  'network.create': [],
  'network.inspect': [],
  'network.remove': [],
  'network.connect': [],
  'network.disconnect': [],
  events: ['filters', 'since', 'until'],
};

export interface ApiRequest {
  api: Api;
  operation: Operation;
  /** The container, exec session, image, volume or network named in the path. */
  subject?: string;
}

const ID = '(?<subject>[^/]+)';
const ROUTES: Array<[Operation, string, RegExp]> = [
  ['ping', 'GET', /^\/_ping$/],
  ['ping', 'HEAD', /^\/_ping$/],
  ['version', 'GET', /^\/(version|info)$/],
  ['container.list', 'GET', /^\/containers\/json$/],
  ['container.create', 'POST', /^\/containers\/create$/],
  ['container.inspect', 'GET', new RegExp(`^/containers/${ID}/json$`)],
  ['container.start', 'POST', new RegExp(`^/containers/${ID}/start$`)],
  ['container.stop', 'POST', new RegExp(`^/containers/${ID}/(stop|kill)$`)],
  ['container.wait', 'POST', new RegExp(`^/containers/${ID}/wait$`)],
  ['container.remove', 'DELETE', new RegExp(`^/containers/${ID}$`)],
  ['container.logs', 'GET', new RegExp(`^/containers/${ID}/logs$`)],
  ['container.attach', 'POST', new RegExp(`^/containers/${ID}/attach$`)],
  ['exec.create', 'POST', new RegExp(`^/containers/${ID}/exec$`)],
  ['exec.start', 'POST', new RegExp(`^/exec/${ID}/start$`)],
  ['exec.inspect', 'GET', new RegExp(`^/exec/${ID}/json$`)],
  ['image.list', 'GET', /^\/images\/json$/],
  ['image.pull', 'POST', /^\/images\/(create|pull)$/],
  // Image names carry slashes (`localhost/visp-testbox:1`).
  ['image.inspect', 'GET', /^\/images\/(?<subject>.+)\/json$/],
  ['image.inspect', 'GET', /^\/images\/(?<subject>.+)\/exists$/],
  ['volume.list', 'GET', /^\/volumes(\/json)?$/],
  ['volume.create', 'POST', /^\/volumes\/create$/],
  ['volume.prune', 'POST', /^\/volumes\/prune$/],
  ['volume.inspect', 'GET', new RegExp(`^/volumes/${ID}(/json)?$`)],
  ['volume.remove', 'DELETE', new RegExp(`^/volumes/${ID}$`)],
  ['network.list', 'GET', /^\/networks(\/json)?$/],
  ['network.create', 'POST', /^\/networks\/create$/],
  ['network.inspect', 'GET', new RegExp(`^/networks/${ID}(/json)?$`)],
  ['network.remove', 'DELETE', new RegExp(`^/networks/${ID}$`)],
  ['network.connect', 'POST', new RegExp(`^/networks/${ID}/connect$`)],
  ['network.disconnect', 'POST', new RegExp(`^/networks/${ID}/disconnect$`)],
  ['events', 'GET', /^\/events$/],
];

const VERSION = /^v\d+(\.\d+){0,2}$/;

/**
 * The operation a request asks for, or a reason it is refused before any policy: paths with encoded slashes or
 * backslashes, dot segments, empty segments or bad escapes are refused, never normalised into something else.
 */
export function parseRequest(method: string, rawUrl: string): ApiRequest | { refused: string } {
  const rawPath = rawUrl.split('?', 1)[0] ?? '';
  if (!rawPath.startsWith('/')) return { refused: 'not an API path' };
  const segments: string[] = [];
  for (const raw of rawPath.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { refused: 'malformed percent-encoding' };
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return { refused: 'path tricks (empty, dot or encoded-slash segments)' };
    segments.push(segment);
  }
  if (VERSION.test(segments[0] ?? '')) segments.shift();
  let api: Api = 'compat';
  if (segments[0] === 'libpod') {
    api = 'libpod';
    segments.shift();
  }
  const path = `/${segments.join('/')}`;
  for (const [operation, routeMethod, pattern] of ROUTES) {
    if (routeMethod !== method) continue;
    const match = pattern.exec(path);
    if (match) return { api, operation, ...(match.groups?.subject ? { subject: match.groups.subject } : {}) };
  }
  return { refused: `${method} ${path} is not an operation any client may use` };
}

/** Why a request's query parameters are refused (one its operation does not take), or undefined. */
export function queryRefusal(operation: Operation, rawUrl: string): string | undefined {
  const queryAt = rawUrl.indexOf('?');
  if (queryAt < 0) return undefined;
  const unknown = [...new URLSearchParams(rawUrl.slice(queryAt + 1)).keys()].find((key) => !QUERY_PARAMS[operation].includes(key));
  return unknown === undefined ? undefined : `${operation} takes no ${JSON.stringify(unknown)} parameter`;
}

export interface ClientPolicy {
  operations: ReadonlySet<Operation>;
  /** Images a create may name. */
  images: RegExp[];
  /** Capabilities a create may add (after `CapDrop: ALL`). */
  capAdd: ReadonlySet<string>;
  /** Host paths under which bind mounts are allowed; none by default. */
  bindRoots: string[];
  /**
   * The session guard's binary on the host (tools/session-guard), which this client may bind read-only at
   * `SESSION_GUARD_PATH` and name as the entrypoint: that one file, to that one target, and nothing wider.
   */
  sessionGuard?: string;
  /**
   * The projects' repositories on the host (PROJECT_REPOSITORIES_DIR): a container may bind
   * `<dir>/<its visp.session.project label>`, through libpod, at `<its owner's home>/project`, and nothing else in
   * or below the directory (values.ts `hostBind`).
   */
  projectRepositories?: string;
  /** Networks a client may create, or put a container on. */
  networks: ReadonlySet<string>;
  /** Besides `networks`: each session's own network, `visp-session-net-<sid>`, joined only by that session. */
  sessionNetworks: boolean;
  /**
   * A container may have user-mode networking of its own (`slirp4netns` exactly, no options): local mode's
   * sessions. Not in network mode, where a session must be on its internal network and nowhere else.
   */
  userModeNetwork: boolean;
  /**
   * Containers, by name, that may be connected to and disconnected from a session's own network (of this
   * instance): the services that reach sessions (SESSION_NETWORK_JOINERS). No other container, no other network.
   */
  joiners: ReadonlySet<string>;
  /** Named volumes a client may create, inspect, remove and mount. */
  volumes: RegExp[];
  /** A container may mount only the home volume of the owner its `visp.session.owner` label names. */
  ownerHome: boolean;
  /** Containers and execs must name a numeric, non-root `uid[:gid]`. */
  nonRoot: boolean;
  /** Containers must drop every capability (`CapDrop: ["ALL"]`) and set `no-new-privileges`. */
  capDropAll: boolean;
}

const SESSION_MANAGER_OPS: Operation[] = [
  'ping', 'version', 'container.list', 'container.create', 'container.inspect', 'container.start', 'container.stop', 'container.wait',
  'container.remove', 'container.logs', 'exec.create', 'exec.start', 'exec.inspect', 'image.list', 'image.inspect',
  'volume.list', 'volume.create', 'volume.inspect', 'volume.remove', 'network.list', 'network.create', 'network.inspect', 'network.remove',
  'network.connect', 'network.disconnect', 'events',
];

/**
 * Where a client's socket is: `<dir>/<client>/<client>.sock`. A directory per client, so that each client's
 * container mounts only its own (a volume per client in quadlets/) and cannot reach another client's socket.
 */
export const clientSocketPath = (dir: string, client: string) => path.join(dir, client, `${client}.sock`);

/** The users' homes, as `homeVolumeName` (libs/podman-client) names them. */
export const HOME_VOLUMES = /^visp-home-[a-z0-9-]+$/;

/**
 * The built-in policies; a policy file may replace any of them. `joiners` (SESSION_NETWORK_JOINERS) may be put on
 * sessions' own networks; `sessionGuard` (local mode's guard binary on the host) lets the session-manager mount it
 * into sessions; `projectRepositories` (PROJECT_REPOSITORIES_DIR) lets it mount each session's project repository.
 */
export function defaultPolicies(images: RegExp[], options: { joiners?: readonly string[]; sessionGuard?: string; projectRepositories?: string } = {}): Record<string, ClientPolicy> {
  const none = { images: [], capAdd: new Set<string>(), bindRoots: [], networks: new Set<string>(), sessionNetworks: false, userModeNetwork: false, joiners: new Set<string>(), volumes: [], ownerHome: true, nonRoot: true, capDropAll: true };
  const guard = { ...(options.sessionGuard ? { sessionGuard: options.sessionGuard } : {}), ...(options.projectRepositories ? { projectRepositories: options.projectRepositories } : {}) };
  const joiners = new Set(options.joiners ?? []);
  return {
    // Local mode (the guard given): its sessions have user-mode networking of their own.
    'session-manager': { ...none, ...guard, operations: new Set(SESSION_MANAGER_OPS), images, sessionNetworks: true, userModeNetwork: options.sessionGuard !== undefined, joiners, volumes: [HOME_VOLUMES] },
    // Recovery removes a session's own network with its container, or when it outlived it, and joins a service
    // that restarted to the networks of the sessions it serves.
    recovery: {
      ...none,
      operations: new Set<Operation>(['ping', 'version', 'container.list', 'container.inspect', 'container.remove', 'container.logs', 'network.list', 'network.inspect', 'network.remove', 'network.connect', 'network.disconnect', 'events']),
      sessionNetworks: true,
      joiners,
    },
    readonly: { ...none, operations: new Set<Operation>(['ping', 'version', 'container.list', 'container.inspect']) },
  };
}
