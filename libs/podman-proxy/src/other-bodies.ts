/**
 * The other bodies the proxy reads: exec create (an exec may be privileged or run as root even in a container
 * that is neither), volume create (driver options can make a "volume" a bind mount of any host path), network
 * create. Same rule as creates: every field listed and checked, the rest refused.
 */
import type { Api, ClientPolicy } from './policy';
import { ABSOLUTE_PATH, arrayOf, boolean, fields, isObject, mapOf, oneOf, sameKeysToPodman, string, type Check, type JsonObject } from './shape';
import { envList, labelMap, managed, network, SESSION_NETWORK, user, volumeName } from './values';

type Checked = { body: JsonObject } | { refused: string };

/** Both APIs' exec create is Podman's one compat handler (handlers.ExecCreateConfig). */
const execShape = (policy: ClientPolicy): Check =>
  fields({
    Cmd: arrayOf(string()),
    AttachStdin: boolean,
    AttachStdout: boolean,
    AttachStderr: boolean,
    Tty: boolean,
    Env: envList,
    WorkingDir: string(ABSOLUTE_PATH, 'an absolute path'),
    User: user(policy),
    DetachKeys: string(),
  });

/** The local driver's only option the session-manager needs: who owns the volume's root (`uid=N,gid=N`). */
const driverOptions: Check = mapOf(oneOf('o'), string(/^uid=[1-9]\d{0,9},gid=[1-9]\d{0,9}$/, 'uid=N,gid=N'));

const volumeShape = (api: Api, policy: ClientPolicy): Check =>
  api === 'compat'
    ? fields({ Name: volumeName(policy), Driver: oneOf('local'), DriverOpts: driverOptions, Labels: labelMap })
    : fields({ Name: volumeName(policy), Driver: oneOf('local'), Options: driverOptions, Labels: labelMap });

const networkShape = (api: Api, policy: ClientPolicy): Check =>
  api === 'compat'
    ? fields({ Name: network(policy), CheckDuplicate: boolean, Internal: boolean, Driver: oneOf('bridge'), Labels: labelMap, Options: isolate })
    : fields({ name: network(policy), internal: boolean, driver: oneOf('bridge'), dns_enabled: boolean, labels: labelMap, options: isolate });

/** netavark's `isolate`, which only takes traffic away (no exchange with other isolated networks). */
const isolate: Check = mapOf(oneOf('isolate'), oneOf('true'));

/**
 * Connecting or disconnecting a container to or from a network: only a joiner, by its exact name, and nothing of
 * the endpoint (addresses, aliases) chosen by the client. The network itself is checked from the path (proxy.ts).
 */
const joinShape = (policy: ClientPolicy, disconnect: boolean): Check =>
  fields({
    Container: oneOf(...policy.joiners),
    ...(disconnect ? { Force: boolean } : {}),
  });

function checked(body: unknown, shape: Check): string | undefined {
  if (!isObject(body)) return 'the body must be a JSON object';
  return sameKeysToPodman(body) ?? shape(body, '');
}

export function checkExecCreate(body: unknown, policy: ClientPolicy): Checked {
  const refused = checked(body, execShape(policy));
  if (refused) return { refused };
  if (!Array.isArray((body as JsonObject).Cmd) || ((body as JsonObject).Cmd as unknown[]).length === 0) return { refused: 'Cmd is required' };
  return { body: body as JsonObject };
}

/** A volume the client may use, labelled as this instance's like its containers (volume removal needs that). */
export function checkVolumeCreate(api: Api, body: unknown, policy: ClientPolicy, instance: string): Checked {
  const refused = checked(body, volumeShape(api, policy));
  if (refused) return { refused };
  const spec = body as JsonObject;
  if (spec.Name === undefined) return { refused: 'Name is required: anonymous volumes are not allowed' };
  const labels = managed(spec.Labels, instance);
  return 'refused' in labels ? labels : { body: { ...spec, Labels: labels.labels } };
}

/** A network the client may make, labelled as this instance's (removing it through the proxy requires that). */
export function checkNetworkCreate(api: Api, body: unknown, policy: ClientPolicy, instance: string): Checked {
  const refused = checked(body, networkShape(api, policy));
  if (refused) return { refused };
  const spec = body as JsonObject;
  const name = spec[api === 'compat' ? 'Name' : 'name'];
  if (name === undefined) return { refused: 'a network name is required' };
  // A session's own network exists to keep others out: without `isolate` it would let every isolated one in,
  // without `internal` it would route to the host and beyond. The services join it: with DNS, they would resolve
  // each other to addresses on it, where they do not listen (only libpod can turn DNS off).
  const options = spec[api === 'compat' ? 'Options' : 'options'] as Record<string, unknown> | undefined;
  if (typeof name === 'string' && SESSION_NETWORK.test(name) && (api !== 'libpod' || spec.internal !== true || spec.dns_enabled !== false || options?.isolate !== 'true')) {
    return { refused: `network ${name} must be created through libpod, internal, with isolate=true and dns_enabled=false` };
  }
  const labelKey = api === 'compat' ? 'Labels' : 'labels';
  const labels = managed(spec[labelKey], instance);
  return 'refused' in labels ? labels : { body: { ...spec, [labelKey]: labels.labels } };
}

/** Compat network connect and disconnect (what the services send); the libpod ones are not needed and refused. */
export function checkNetworkJoin(api: Api, body: unknown, policy: ClientPolicy, disconnect: boolean): Checked {
  if (api !== 'compat') return { refused: 'only the Docker-compatible network connect and disconnect are allowed' };
  const refused = checked(body, joinShape(policy, disconnect));
  if (refused) return { refused };
  if ((body as JsonObject).Container === undefined) return { refused: 'Container is required' };
  return { body: body as JsonObject };
}
