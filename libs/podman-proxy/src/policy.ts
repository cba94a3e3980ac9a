/**
 * What a client of the socket proxy may ask of Podman. Requests are reduced to an operation (the same for the
 * Docker-compatible and the libpod API, versioned or not) before any rule is looked at, so no spelling of a path
 * can slip past one.
 */

export type Api = 'compat' | 'libpod';

export const OPERATIONS = [
  'ping', 'version',
  'container.list', 'container.create', 'container.inspect', 'container.start', 'container.stop', 'container.wait',
  'container.remove', 'container.logs', 'container.attach',
  'exec.create', 'exec.start', 'exec.inspect',
  'image.list', 'image.inspect', 'image.pull',
  'volume.list', 'volume.create', 'volume.inspect', 'volume.remove', 'volume.prune',
  'network.list', 'network.create', 'network.inspect', 'network.remove',
  'events',
] as const;
export type Operation = (typeof OPERATIONS)[number];

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

export interface ClientPolicy {
  operations: ReadonlySet<Operation>;
  /** Images a create may name. */
  images: RegExp[];
  /** Capabilities a create may add (after `CapDrop: ALL`). */
  capAdd: ReadonlySet<string>;
  /** Host paths under which bind mounts are allowed; none by default. */
  bindRoots: string[];
  /** Networks a client may create. */
  networks: ReadonlySet<string>;
}

const SESSION_MANAGER_OPS: Operation[] = [
  'ping', 'version', 'container.list', 'container.create', 'container.inspect', 'container.start', 'container.stop', 'container.wait',
  'container.remove', 'container.logs', 'exec.create', 'exec.start', 'exec.inspect', 'image.list', 'image.inspect',
  'volume.list', 'volume.create', 'volume.inspect', 'volume.remove', 'network.list', 'network.create', 'network.inspect', 'events',
];

/** The built-in policies; a policy file may replace any of them. */
export function defaultPolicies(images: RegExp[]): Record<string, ClientPolicy> {
  const none = { images: [], capAdd: new Set<string>(), bindRoots: [], networks: new Set<string>() };
  return {
    'session-manager': { ...none, operations: new Set(SESSION_MANAGER_OPS), images, networks: new Set(['visp-sessions']) },
    recovery: { ...none, operations: new Set<Operation>(['ping', 'version', 'container.list', 'container.inspect', 'container.remove', 'container.logs', 'events']) },
    readonly: { ...none, operations: new Set<Operation>(['ping', 'version', 'container.list', 'container.inspect']) },
  };
}

type Body = Record<string, unknown>;
const asRecord = (value: unknown): Body => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Body) : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const sharesHost = (mode: unknown) => typeof mode === 'string' && (mode === 'host' || mode.startsWith('container:') || mode.startsWith('ns:'));
const WEAKENING = /(^|[=:])unconfined$|^label[=:]disable$|^disable$/;

/**
 * Checks a container-create body against a policy and returns it with this instance's management labels
 * enforced; any weakening of isolation is a refusal with its reason. Both the Docker-compatible and the libpod
 * shapes are read.
 */
export function checkCreate(api: Api, body: unknown, policy: ClientPolicy, instance: string): { body: Body } | { refused: string } {
  const spec = asRecord(body);
  const image = String((api === 'compat' ? spec.Image : spec.image) ?? '');
  if (!policy.images.some((pattern) => pattern.test(image))) return { refused: `image ${JSON.stringify(image)} is not allowed` };

  const host = api === 'compat' ? asRecord(spec.HostConfig) : spec;
  const field = (compat: string, libpod: string) => (api === 'compat' ? host[compat] : spec[libpod]);
  if (field('Privileged', 'privileged') === true) return { refused: 'privileged containers are not allowed' };
  const namespaces: Array<[string, unknown]> =
    api === 'compat'
      ? [['network', host.NetworkMode], ['pid', host.PidMode], ['ipc', host.IpcMode], ['uts', host.UTSMode], ['user', host.UsernsMode], ['cgroup', host.CgroupnsMode]]
      : [['network', asRecord(spec.netns).nsmode], ['pid', asRecord(spec.pidns).nsmode], ['ipc', asRecord(spec.ipcns).nsmode], ['uts', asRecord(spec.utsns).nsmode], ['user', asRecord(spec.userns).nsmode], ['cgroup', asRecord(spec.cgroupns).nsmode]];
  for (const [name, mode] of namespaces) if (sharesHost(mode)) return { refused: `sharing the host's (or another container's) ${name} namespace is not allowed` };
  if (asArray(field('Devices', 'devices')).length > 0 || asArray(host.DeviceRequests).length > 0) return { refused: 'devices are not allowed' };
  const capAdd = asArray(field('CapAdd', 'cap_add')).map(String);
  const extra = capAdd.find((cap) => !policy.capAdd.has(cap.toUpperCase().replace(/^CAP_/, '')));
  if (extra) return { refused: `adding capability ${extra} is not allowed` };
  if (Object.keys(asRecord(field('Sysctls', 'sysctl'))).length > 0) return { refused: 'sysctls are not allowed' };
  const securityOpts = [...asArray(field('SecurityOpt', 'selinux_opts')).map(String), String(spec.seccomp_profile_path ?? ''), String(spec.apparmor_profile ?? '')];
  const weakening = securityOpts.find((opt) => WEAKENING.test(opt));
  if (weakening) return { refused: `security option ${weakening} is not allowed` };
  if (asArray(field('VolumesFrom', 'volumes_from')).length > 0) return { refused: "mounting another container's volumes is not allowed" };

  const bindSources = [
    // `name:/target` is a named volume; only an absolute source is the host's file system.
    ...asArray(host.Binds).map((bind) => String(bind).split(':')[0] ?? '').filter((source) => source.startsWith('/')),
    ...asArray(field('Mounts', 'mounts'))
      .map(asRecord)
      .filter((mount) => String(mount.Type ?? mount.type ?? '').toLowerCase() === 'bind')
      .map((mount) => String(mount.Source ?? mount.source ?? '')),
  ];
  const outside = bindSources.find((source) => !policy.bindRoots.some((root) => source === root || source.startsWith(`${root.replace(/\/$/, '')}/`)) || source.split('/').includes('..'));
  if (outside !== undefined) return { refused: `bind mount of ${JSON.stringify(outside)} is outside the allowed roots` };

  const labelsKey = api === 'compat' ? 'Labels' : 'labels';
  const labels = { ...(asRecord(spec[labelsKey]) as Record<string, string>) };
  if (labels['visp.instance'] !== undefined && labels['visp.instance'] !== instance) return { refused: `labels name instance ${labels['visp.instance']}, not ${instance}` };
  labels['visp.managed'] = 'true';
  labels['visp.instance'] = instance;
  return { body: { ...spec, [labelsKey]: labels } };
}
