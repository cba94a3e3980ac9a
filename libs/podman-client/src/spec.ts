import type { ContainerCreateOptions } from 'dockerode';

export interface ResourceLimits {
  memoryBytes: number;
  /** CPUs in billionths (1e9 = one CPU). */
  nanoCpus: number;
  pids: number;
}

export interface TmpfsMount {
  target: string;
  sizeBytes: number;
  /** Always explicit: Podman makes a tmpfs without a mode 000. */
  mode: number;
}

/** What the system may ask of a container. Security settings are not options: every container gets them. */
export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  /** `uid:gid`; must not be root. */
  user: string;
  limits: ResourceLimits;
  /** Replaces the image's ENTRYPOINT (the session guard in local mode). */
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  workdir?: string;
  tmpfs?: TmpfsMount[];
  volumes?: Array<{ name: string; target: string }>;
  /** Host files mounted read-only, always: the session guard's binary in local mode (the socket proxy allows no other). */
  readOnlyBinds?: Array<{ source: string; target: string }>;
  /**
   * Host directories mounted read-write: a session's project repository (`projectRepository`). Never chowned or
   * relabelled (no `U`, `z`, `Z`): the operator makes the directory the session user's. A spec with any is created
   * through libpod (`toLibpodSpec`), because Podman's Docker-compatible create makes a missing bind source (an
   * empty directory, as Podman's user) where libpod's refuses it (`statfs <source>: no such file or directory`).
   */
  writableBinds?: Array<{ source: string; target: string }>;
  /**
   * Attach to this network only (a session's own: `visp-session-net-<sid>`), or give the container user-mode
   * networking of its own (`slirp4netns`: an address no host route leads to, egress through the host's sockets,
   * the host's loopback closed to it).
   */
  network?: { name: string } | 'slirp4netns';
  /** Publish a container port on 127.0.0.1 (local mode); the host port is chosen by Podman. */
  publish?: { containerPort: number };
}

const ROOT_USERS = new Set(['', '0', 'root']);

/** Throws on a spec that would weaken isolation, whichever API it goes through. */
function checkSpec(spec: ContainerSpec): void {
  const [uid = ''] = spec.user.split(':');
  if (ROOT_USERS.has(uid)) throw new Error(`container ${spec.name}: refusing to run as root (user ${JSON.stringify(spec.user)})`);
  for (const mount of spec.tmpfs ?? []) {
    if (!Number.isInteger(mount.mode) || mount.mode < 0 || mount.mode > 0o7777) throw new Error(`tmpfs ${mount.target}: invalid mode`);
  }
}

/** Whether the spec must be created through libpod (`toLibpodSpec`) rather than the compatible API. */
export const needsLibpod = (spec: ContainerSpec): boolean => (spec.writableBinds?.length ?? 0) > 0;

/** Builds the Docker-compatible create body; throws on a spec that would weaken isolation. */
export function toCreateOptions(spec: ContainerSpec): ContainerCreateOptions {
  checkSpec(spec);
  if (needsLibpod(spec)) throw new Error(`container ${spec.name}: writable host directories are created through libpod only (toLibpodSpec)`);
  const port = spec.publish ? `${spec.publish.containerPort}/tcp` : undefined;
  return {
    name: spec.name,
    Image: spec.image,
    Labels: spec.labels,
    User: spec.user,
    Entrypoint: spec.entrypoint,
    Cmd: spec.cmd,
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    WorkingDir: spec.workdir,
    ExposedPorts: port ? { [port]: {} } : undefined,
    HostConfig: {
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Init: true,
      Memory: spec.limits.memoryBytes,
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: spec.limits.nanoCpus,
      PidsLimit: spec.limits.pids,
      Mounts: [
        ...(spec.volumes ?? []).map((v) => ({ Type: 'volume' as const, Source: v.name, Target: v.target })),
        ...(spec.tmpfs ?? []).map((t) => ({ Type: 'tmpfs' as const, Source: '', Target: t.target, TmpfsOptions: { SizeBytes: t.sizeBytes, Mode: t.mode } })),
        ...(spec.readOnlyBinds ?? []).map((b) => ({ Type: 'bind' as const, Source: b.source, Target: b.target, ReadOnly: true })),
      ],
      NetworkMode: spec.network === 'slirp4netns' ? 'slirp4netns' : spec.network?.name,
      PortBindings: port ? { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] } : undefined,
      RestartPolicy: { Name: 'no' },
    },
    NetworkingConfig: spec.network && spec.network !== 'slirp4netns' ? { EndpointsConfig: { [spec.network.name]: {} } } : undefined,
  };
}

/** CPU time per period (µs) that libpod takes for a CPU limit, as Podman turns the compatible API's NanoCpus into. */
const CPU_PERIOD = 100_000;

/**
 * The same container as `toCreateOptions`, as libpod's create (specgen) body: every security setting, limit,
 * mount, network and port alike (Podman's compatible create translates into this very structure).
 */
export function toLibpodSpec(spec: ContainerSpec): Record<string, unknown> {
  checkSpec(spec);
  const tmpfs = (spec.tmpfs ?? []).map((t) => ({ type: 'tmpfs', source: 'tmpfs', destination: t.target, options: [`size=${t.sizeBytes}`, `mode=${t.mode.toString(8).padStart(3, '0')}`] }));
  const readOnly = (spec.readOnlyBinds ?? []).map((b) => ({ type: 'bind', source: b.source, destination: b.target, options: ['ro'] }));
  // nosuid and nodev: nothing in a repository is a device or may raise privileges (no-new-privileges holds anyway).
  const writable = (spec.writableBinds ?? []).map((b) => ({ type: 'bind', source: b.source, destination: b.target, options: ['rw', 'nosuid', 'nodev'] }));
  const network = spec.network === 'slirp4netns' ? { netns: { nsmode: 'slirp4netns' } } : spec.network ? { netns: { nsmode: 'bridge' }, Networks: { [spec.network.name]: {} } } : {};
  return {
    name: spec.name,
    image: spec.image,
    labels: spec.labels,
    user: spec.user,
    ...(spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
    ...(spec.cmd ? { command: spec.cmd } : {}),
    env: spec.env ?? {},
    ...(spec.workdir ? { work_dir: spec.workdir } : {}),
    cap_drop: ['ALL'],
    no_new_privileges: true,
    init: true,
    resource_limits: {
      memory: { limit: spec.limits.memoryBytes, swap: spec.limits.memoryBytes },
      cpu: { quota: Math.max(1, Math.round((spec.limits.nanoCpus * CPU_PERIOD) / 1e9)), period: CPU_PERIOD },
      pids: { limit: spec.limits.pids },
    },
    mounts: [...tmpfs, ...readOnly, ...writable],
    volumes: (spec.volumes ?? []).map((v) => ({ Name: v.name, Dest: v.target })),
    ...network,
    ...(spec.publish ? { portmappings: [{ host_ip: '127.0.0.1', container_port: spec.publish.containerPort, host_port: 0, protocol: 'tcp' }] } : {}),
  };
}
