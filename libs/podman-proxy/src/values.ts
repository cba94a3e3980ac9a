// The checks of single values that depend on a client's policy: images, users, capabilities, volumes, binds,
// networks, labels. Shared by the container-create, exec, volume and network bodies of both APIs.
import path from 'node:path';
import { LABEL, ProjectIdSchema } from '@visp/contracts';
import { homeVolumeName, projectRepository, SESSION_GUARD_PATH } from '@visp/podman-client';
import { arrayOf, mapOf, NAME, oneOf, string, type Check, type JsonObject } from './shape';
import type { Api, ClientPolicy } from './policy';

export const image = (policy: ClientPolicy): Check =>
  string((value) => (policy.images.some((pattern) => pattern.test(value)) ? undefined : `image ${JSON.stringify(value)} is not allowed`));

/**
 * `uid[:gid]`, numbers only and neither of them 0: a name is looked up in the image's /etc/passwd, where any name
 * may be root, so a name cannot be judged here.
 */
export const user = (policy: ClientPolicy): Check =>
  policy.nonRoot
    ? string((value) => (/^[1-9]\d{0,9}(:[1-9]\d{0,9})?$/.test(value) ? undefined : `user ${JSON.stringify(value)} is not allowed: a numeric uid:gid other than root`))
    : string();

export const capDrop = (policy: ClientPolicy): Check =>
  policy.capDropAll
    ? (value, at) => (Array.isArray(value) && value.length === 1 && value[0] === 'ALL' ? undefined : `${at} must be ["ALL"]`)
    : arrayOf(string(/^[A-Za-z_]+$/));

export const capAdd = (policy: ClientPolicy): Check =>
  arrayOf(string((cap) => (policy.capAdd.has(cap.toUpperCase().replace(/^CAP_/, '')) ? undefined : `adding capability ${cap} is not allowed`)));

/** The one spelling of no-new-privileges allowed in SecurityOpt: any other option could weaken isolation. */
export const NO_NEW_PRIVILEGES = ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true'];

/**
 * A named volume a container may mount: one of the client's volume patterns and, where the policy says so, the
 * home of the owner the container's labels name (never another user's home, nor visp-mongo or visp-caddy-data).
 */
export const volumeToMount = (policy: ClientPolicy, owner: string | undefined): Check =>
  string((name) => {
    if (!policy.volumes.some((pattern) => pattern.test(name))) return `volume ${JSON.stringify(name)} is not one this client may use`;
    if (policy.ownerHome && (owner === undefined || name !== homeVolumeName(owner))) {
      return `volume ${JSON.stringify(name)} is not the home of this container's owner (${JSON.stringify(owner ?? null)})`;
    }
    return undefined;
  });

/** A volume this client may create, inspect or remove by name. */
export const volumeName = (policy: ClientPolicy): Check =>
  string((name) => (policy.volumes.some((pattern) => pattern.test(name)) ? undefined : `volume ${JSON.stringify(name)} is not one this client may use`));

/** A host path under one of the policy's bind roots (none by default). */
export const bindSource = (policy: ClientPolicy): Check =>
  string((source) =>
    source.startsWith('/') && !source.split('/').includes('..') && policy.bindRoots.some((root) => source === root || source.startsWith(`${root.replace(/\/$/, '')}/`))
      ? undefined
      : `bind mount of ${JSON.stringify(source)} is outside the allowed roots`,
  );

/**
 * A source or target in a compatible create's `HostConfig.Mounts`. Podman joins each of those into a `--mount`
 * string (`type=volume,source=<s>,target=<t>`) and parses it again as CSV, so a comma adds options of the client's
 * choosing: `target=/data,source=visp-mongo` mounts visp-mongo (the last `source` wins), `,U` chowns. So: no
 * comma, quote or control character.
 */
export const MOUNT_FIELD = /^[^,"\p{Cc}]*$/u;

/** What a bind of a host path is judged by besides the policy: the API, and the container's project and home. */
export interface BindContext {
  api: Api;
  /** The container's `visp.session.project` label. */
  project: string | undefined;
  /** Where the same (libpod) body mounts its owner's home volume, if it does. */
  home: string | undefined;
}

/** Whether a host path is the projects' repositories directory or below it, however it is spelt. */
const underProjects = (policy: ClientPolicy, source: string): boolean => {
  const root = policy.projectRepositories;
  if (root === undefined) return false;
  const normal = path.posix.normalize(source);
  return normal === root || normal.startsWith(`${root}/`);
};

const PROJECT_THROUGH_LIBPOD = "a project's repository is mounted through libpod's create only (Podman's compatible create makes a missing one)";

/**
 * A project's repository: `<root>/<project>` exactly, where `<project>` is the container's `visp.session.project`
 * label (one path segment: contracts' ProjectIdSchema), so that a client can mount neither another project's
 * repository under this label nor anything else there; at `<home>/project`, `<home>` being where the same body
 * mounts its owner's home; and only through libpod, whose create refuses a missing source.
 */
function projectBind(root: string, source: string, target: unknown, at: string, context: BindContext): string | undefined {
  if (context.api !== 'libpod') return `${at}: ${PROJECT_THROUGH_LIBPOD}`;
  const { project, home } = context;
  if (project === undefined || !ProjectIdSchema.safeParse(project).success) return `${at}: bind mount of ${JSON.stringify(source)}: the container's ${LABEL.project} label names no project`;
  const own = projectRepository(root, project, home ?? '/');
  if (source !== own.source) return `${at}: bind mount of ${JSON.stringify(source)} is not the repository of the container's project ${JSON.stringify(project)}`;
  if (home === undefined) return `${at}: a project's repository goes under its owner's home, which this container does not mount`;
  return target === own.target ? undefined : `${at}: the project's repository may be mounted at ${own.target} only`;
}

/**
 * A bind mount of a host path: a project's repository (`projectBind`); the policy's session guard, only read-only
 * and only at `SESSION_GUARD_PATH`; any other path only under the bind roots.
 */
export function hostBind(policy: ClientPolicy, source: unknown, target: unknown, readOnly: boolean, at: string, context: BindContext): string | undefined {
  if (policy.projectRepositories !== undefined && typeof source === 'string' && underProjects(policy, source)) return projectBind(policy.projectRepositories, source, target, at, context);
  if (policy.sessionGuard === undefined || source !== policy.sessionGuard) return bindSource(policy)(source, at);
  if (target !== SESSION_GUARD_PATH) return `${at}: the session guard may be mounted at ${SESSION_GUARD_PATH} only`;
  return readOnly ? undefined : `${at}: the session guard may be mounted read-only only`;
}

/** An entrypoint: only the session guard's, for a client whose policy has one (none may set any other). */
export const entrypoint = (policy: ClientPolicy): Check => (value, at) =>
  policy.sessionGuard !== undefined && Array.isArray(value) && value.length === 1 && value[0] === SESSION_GUARD_PATH ? undefined : `${at} may only be ["${SESSION_GUARD_PATH}"], for a client allowed the session guard`;

const MOUNT_OPTIONS = ['ro', 'rw', 'nosuid', 'nodev', 'noexec'];

/** Docker's `Binds` entry, `source:target[:options]`: a host path under the bind roots, or a volume to mount. */
export const bind = (policy: ClientPolicy, owner: string | undefined): Check => (value, at) => {
  if (typeof value !== 'string') return `${at} must be a string`;
  const [source = '', target = '', options, ...more] = value.split(':');
  if (more.length > 0 || !target.startsWith('/')) return `${at} ${JSON.stringify(value)} is not source:target[:options]`;
  const bad = options?.split(',').find((option) => !MOUNT_OPTIONS.includes(option));
  if (bad !== undefined) return `${at}: mount option ${JSON.stringify(bad)} is not allowed`;
  if (source.startsWith('/') && underProjects(policy, source)) return `${at}: ${PROJECT_THROUGH_LIBPOD}`;
  return source.startsWith('/') ? bindSource(policy)(source, at) : volumeToMount(policy, owner)(source, at);
};

export const mountOptions: Check = arrayOf(oneOf(...MOUNT_OPTIONS));

/** A session's own network (libs/sessions `sessionNetworkName`), for sessions isolated from each other. */
export const SESSION_NETWORK = /^visp-session-net-[a-z2-7]{12}$/;

/**
 * A network a client may create (the policy's, by exact name, or, with `sessionNetworks`, a session's own), or
 * a container may join: a container only its own session's network (`sid` from its `visp.session.id` label).
 */
export const network = (policy: ClientPolicy, sid?: string | null): Check =>
  string((name) => {
    if (policy.networks.has(name)) return undefined;
    if (policy.sessionNetworks && SESSION_NETWORK.test(name) && (sid === undefined || name === `visp-session-net-${sid}`)) return undefined;
    return `network ${JSON.stringify(name)} is not allowed`;
  });

export const labelMap: Check = mapOf(string(/^[^\0]{1,256}$/, 'a label name'), string(/^[^\0]*$/, 'a label value'));

export const envList: Check = arrayOf(string(/^[^=\0]+=[^\0]*$/, 'NAME=value'));

/** A container's name; never a joiner's, which a client may put on sessions' networks (a stand-in there would be reached by sessions' traffic meant for the gateway). */
export const containerName = (policy: ClientPolicy): Check =>
  string((name) => (!NAME.test(name) ? 'must be a container name' : policy.joiners.has(name) ? `${JSON.stringify(name)} is the name of a service that joins sessions' networks` : undefined));

/**
 * The labels with this instance's management labels enforced: added when missing, refused when another
 * instance is named.
 */
export function managed(labels: unknown, instance: string): { labels: Record<string, string> } | { refused: string } {
  const given = { ...((labels ?? {}) as Record<string, string>) };
  if (given[LABEL.instance] !== undefined && given[LABEL.instance] !== instance) return { refused: `labels name instance ${given[LABEL.instance]}, not ${instance}` };
  return { labels: { ...given, [LABEL.managed]: 'true', [LABEL.instance]: instance } };
}

/** The session a create's labels name, for the session-network rule (null: none). */
export const sessionOf = (labels: unknown): string | null => {
  const sid = (labels as JsonObject | undefined)?.[LABEL.sessionId];
  return typeof sid === 'string' ? sid : null;
};

/** The project a create's labels name, for the project-repository rule. */
export const projectOf = (labels: unknown): string | undefined => {
  const project = (labels as JsonObject | undefined)?.[LABEL.project];
  return typeof project === 'string' ? project : undefined;
};

/** The owner a create's labels name, for the home-volume rule. */
export const ownerOf = (labels: unknown): string | undefined => {
  const owner = (labels as JsonObject | undefined)?.[LABEL.owner];
  return typeof owner === 'string' ? owner : undefined;
};
