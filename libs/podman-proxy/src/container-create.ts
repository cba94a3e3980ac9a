/**
 * What a container-create body may say, for each API shape: every field listed with a check of its value, the
 * rest refused. The lists hold what the session-manager sends (libs/podman-client `toCreateOptions`) and the
 * libpod equivalents, nothing more: privileged, host namespaces, devices, sysctls, security options other than
 * no-new-privileges, `VolumesFrom`, anonymous, overlay and image volumes, volume driver options and the like are
 * refused because they are not listed, whatever their spelling.
 */
import { homeVolumeName } from '@visp/podman-client';
import type { Api, ClientPolicy } from './policy';
import { ABSOLUTE_PATH, arrayOf, boolean, byField, fields, integer, isObject, mapOf, oneOf, sameKeysToPodman, string, type Check, type JsonObject } from './shape';
import { bind, capAdd, capDrop, containerName, entrypoint, envList, hostBind, image, labelMap, managed, MOUNT_FIELD, mountOptions, network, NO_NEW_PRIVILEGES, ownerOf, projectOf, sessionOf, user, volumeToMount } from './values';

const PORT = string(/^\d{1,5}\/(tcp|udp)$/, 'a port/protocol');
const path = string(ABSOLUTE_PATH, 'an absolute path');
/** Compat `Mounts` sources and targets, which Podman re-reads as a comma-separated `--mount` (values.ts `MOUNT_FIELD`). */
const mountField = string(MOUNT_FIELD, 'free of "," and quotes (Podman reads a mount as a comma-separated --mount)');
const and = (first: Check, second: Check): Check => (value, at) => first(value, at) ?? second(value, at);
const mountPath = and(path, mountField);
const strings = arrayOf(string());
const emptyObject = fields({});

/** The shape first, then a check of the whole object (which may then read its fields as checked). */
const both = (shape: Check, whole: (value: JsonObject, at: string) => string | undefined): Check => (value, at) => shape(value, at) ?? whole(value as JsonObject, at);

/** What a create's checks read besides the policy: who and what its labels name, where it mounts the owner's home. */
interface CreateContext {
  owner: string | undefined;
  sid: string | null;
  project: string | undefined;
  /** libpod: where the body mounts the owner's home volume (a project's repository goes under it). */
  home: string | undefined;
}

/** Docker-compatible `POST /containers/create`. */
function compatShape(policy: ClientPolicy, { owner, sid, project }: CreateContext): Check {
  const binding = { api: 'compat' as const, project, home: undefined };
  const mount = byField('Type', {
    volume: fields({ Type: string(), Source: and(mountField, volumeToMount(policy, owner)), Target: mountPath, ReadOnly: boolean }),
    tmpfs: fields({ Type: string(), Source: oneOf(''), Target: mountPath, ReadOnly: boolean, TmpfsOptions: fields({ SizeBytes: integer(1), Mode: integer(0, 0o7777) }) }),
    bind: both(fields({ Type: string(), Source: mountPath, Target: mountPath, ReadOnly: boolean }), (m: JsonObject, at) => hostBind(policy, m.Source, m.Target, m.ReadOnly === true, at, binding)),
  });
  // `slirp4netns` exactly: its options (`allow_host_loopback=true`) would open the host's loopback to the container.
  const networkMode: Check = (value, at) => (value === 'bridge' || value === 'none' || value === 'default' || value === '' || (policy.userModeNetwork && value === 'slirp4netns') ? undefined : network(policy, sid)(value, at));
  return fields({
    name: containerName(policy),
    Image: image(policy),
    Labels: labelMap,
    User: user(policy),
    Entrypoint: entrypoint(policy),
    Cmd: strings,
    Env: envList,
    WorkingDir: path,
    ExposedPorts: mapOf(PORT, emptyObject),
    HostConfig: fields({
      CapDrop: capDrop(policy),
      CapAdd: capAdd(policy),
      SecurityOpt: arrayOf(oneOf(...NO_NEW_PRIVILEGES)),
      Init: boolean,
      Memory: integer(1),
      MemorySwap: integer(-1),
      NanoCpus: integer(1),
      PidsLimit: integer(1),
      Mounts: arrayOf(mount),
      Binds: arrayOf(bind(policy, owner)),
      NetworkMode: networkMode,
      // Published ports only on the loopback address.
      PortBindings: mapOf(PORT, arrayOf(fields({ HostIp: oneOf('127.0.0.1'), HostPort: string(/^\d{0,5}$/, 'a port') }))),
      RestartPolicy: fields({ Name: oneOf('no', ''), MaximumRetryCount: integer(0, 0) }),
    }),
    NetworkingConfig: fields({ EndpointsConfig: mapOf(network(policy, sid), fields({})) }),
  });
}

/** libpod's `POST /libpod/containers/create` (specgen). */
function libpodShape(policy: ClientPolicy, { owner, sid, project, home }: CreateContext): Check {
  const binding = { api: 'libpod' as const, project, home };
  const mount = byField('type', {
    tmpfs: fields({ type: string(), source: oneOf('tmpfs'), destination: path, options: arrayOf(string(/^(size=\d+[kmg]?|mode=[0-7]{3,4}|nosuid|nodev|noexec|rw|ro)$/, 'a tmpfs option')) }),
    bind: both(fields({ type: string(), source: string(), destination: path, options: arrayOf(oneOf('ro', 'rw', 'bind', 'rbind', 'nosuid', 'nodev', 'noexec')) }), (m: JsonObject, at) => {
      // Read-only when `ro` is given and `rw` is not (Podman lets the last of the two win).
      const options = Array.isArray(m.options) ? m.options : [];
      return hostBind(policy, m.source, m.destination, options.includes('ro') && !options.includes('rw'), at, binding);
    }),
  });
  return fields({
    name: containerName(policy),
    image: image(policy),
    labels: labelMap,
    user: user(policy),
    entrypoint: entrypoint(policy),
    command: strings,
    env: mapOf(string(/^[^=\0]+$/, 'a variable name'), string()),
    work_dir: path,
    cap_drop: capDrop(policy),
    cap_add: capAdd(policy),
    no_new_privileges: boolean,
    init: boolean,
    stop_timeout: integer(0, 3600),
    resource_limits: fields({ memory: fields({ limit: integer(1), swap: integer(-1) }), cpu: fields({ quota: integer(1), period: integer(1) }), pids: fields({ limit: integer(1) }) }),
    mounts: arrayOf(mount),
    // Named volumes (specgen.NamedVolume has no JSON tags: Go's field names).
    volumes: arrayOf(fields({ Name: volumeToMount(policy, owner), Dest: path, Options: mountOptions })),
    netns: fields({ nsmode: policy.userModeNetwork ? oneOf('bridge', 'none', 'private', 'slirp4netns') : oneOf('bridge', 'none', 'private') }),
    Networks: mapOf(network(policy, sid), fields({})),
    portmappings: arrayOf(fields({ host_ip: oneOf('127.0.0.1'), container_port: integer(1, 65535), host_port: integer(0, 65535), protocol: oneOf('tcp', 'udp') })),
  });
}

/** Where a libpod body mounts its owner's home volume: the one place a project's repository may go under. */
function homeOf(api: Api, body: JsonObject, owner: string | undefined): string | undefined {
  if (api !== 'libpod' || owner === undefined || !Array.isArray(body.volumes)) return undefined;
  const home = homeVolumeName(owner);
  const mount = body.volumes.find((volume): volume is JsonObject => isObject(volume) && volume.Name === home);
  return typeof mount?.Dest === 'string' ? mount.Dest : undefined;
}

/** What the policy requires to be present, not only allowed: a non-root user, all capabilities dropped. */
function requirements(api: Api, spec: JsonObject, policy: ClientPolicy): string | undefined {
  const host = api === 'compat' ? (isObject(spec.HostConfig) ? spec.HostConfig : {}) : spec;
  const [userKey, capDropKey] = api === 'compat' ? ['User', 'HostConfig.CapDrop'] : ['user', 'cap_drop'];
  if (policy.nonRoot && spec[api === 'compat' ? 'User' : 'user'] === undefined) return `${userKey} is required: containers run as a non-root user`;
  if (policy.capDropAll) {
    if (host[api === 'compat' ? 'CapDrop' : 'cap_drop'] === undefined) return `${capDropKey} is required: ["ALL"]`;
    const nnp = api === 'compat' ? Array.isArray(host.SecurityOpt) && host.SecurityOpt.some((opt) => NO_NEW_PRIVILEGES.includes(opt as string)) : spec.no_new_privileges === true;
    if (!nnp) return `${api === 'compat' ? 'HostConfig.SecurityOpt' : 'no_new_privileges'} must set no-new-privileges`;
  }
  return undefined;
}

/**
 * Checks a container-create body against a policy and returns it with this instance's management labels
 * enforced, or the reason it is refused.
 */
export function checkCreate(api: Api, body: unknown, policy: ClientPolicy, instance: string): { body: JsonObject } | { refused: string } {
  if (!isObject(body)) return { refused: 'the body must be a JSON object' };
  const duplicate = sameKeysToPodman(body);
  if (duplicate) return { refused: duplicate };
  const labelsKey = api === 'compat' ? 'Labels' : 'labels';
  const labels = isObject(body[labelsKey]) ? body[labelsKey] : undefined;
  const owner = ownerOf(labels);
  const context: CreateContext = { owner, sid: sessionOf(labels), project: projectOf(labels), home: homeOf(api, body, owner) };
  const shape = api === 'compat' ? compatShape(policy, context) : libpodShape(policy, context);
  const refused = shape(body, '') ?? requirements(api, body, policy);
  if (refused) return { refused };
  if (body[api === 'compat' ? 'Image' : 'image'] === undefined) return { refused: 'an image is required' };
  const enforced = managed(body[labelsKey], instance);
  if ('refused' in enforced) return enforced;
  return { body: { ...body, [labelsKey]: enforced.labels } };
}
