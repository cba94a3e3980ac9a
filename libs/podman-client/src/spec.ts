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
   * Attach to this network only (a session's own: `visp-session-net-<sid>`), or give the container user-mode
   * networking of its own (`slirp4netns`: an address no host route leads to, egress through the host's sockets,
   * the host's loopback closed to it).
   */
  network?: { name: string } | 'slirp4netns';
  /** Publish a container port on 127.0.0.1 (local mode); the host port is chosen by Podman. */
  publish?: { containerPort: number };
}

const ROOT_USERS = new Set(['', '0', 'root']);

/** Builds the Docker-compatible create body; throws on a spec that would weaken isolation. */
export function toCreateOptions(spec: ContainerSpec): ContainerCreateOptions {
  const [uid = ''] = spec.user.split(':');
  if (ROOT_USERS.has(uid)) throw new Error(`container ${spec.name}: refusing to run as root (user ${JSON.stringify(spec.user)})`);
  for (const mount of spec.tmpfs ?? []) {
    if (!Number.isInteger(mount.mode) || mount.mode < 0 || mount.mode > 0o7777) throw new Error(`tmpfs ${mount.target}: invalid mode`);
  }
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
