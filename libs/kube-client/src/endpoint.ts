import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/** Where the API server is and how to prove who we are to it. */
export interface KubeEndpoint {
  /** `https://host:port`, without a trailing slash. */
  server: string;
  /** PEM: the API server's CA; the system's CAs when absent. */
  ca?: string;
  /** PEM client certificate and key (a kubeconfig's x509 user). */
  cert?: string;
  key?: string;
  /** A bearer token, read again now and then: a service account's rotates under the pod. */
  token?: () => string;
  /** The context's (or the service account's) namespace, when it names one. */
  namespace?: string;
}

/** The settings that say where the API server is (libs/config reads them). */
export interface KubeSettings {
  /** A kubeconfig file; otherwise the pod's service account (in the cluster). */
  KUBECONFIG?: string;
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
}

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token read from a file is used before it is read again (client-go: a minute). */
const TOKEN_REREAD_MS = 60_000;

/**
 * A token file's content, read again once a minute; a read that fails keeps the token it had (the kubelet swaps
 * the file in place), and only a first read that fails is an error.
 */
function tokenFrom(file: string, read: Read): () => string {
  let token: string | undefined;
  let readAt = 0;
  return () => {
    if (token === undefined || Date.now() - readAt > TOKEN_REREAD_MS) {
      try {
        token = read(file).trim();
        readAt = Date.now();
      } catch (err) {
        if (token === undefined) throw new KubeConfigError(`cannot read the token ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return token;
  };
}

// The parts of a kubeconfig this client understands; exec and auth-provider users are refused by name below.
const KubeconfigSchema = z.object({
  'current-context': z.string().optional(),
  // https only: a token or a client key must never go out in clear.
  clusters: z.array(z.object({ name: z.string(), cluster: z.object({ server: z.url({ protocol: /^https$/ }), 'certificate-authority': z.string().optional(), 'certificate-authority-data': z.string().optional() }) })),
  users: z.array(
    z.object({
      name: z.string(),
      user: z.object({
        'client-certificate': z.string().optional(),
        'client-certificate-data': z.string().optional(),
        'client-key': z.string().optional(),
        'client-key-data': z.string().optional(),
        token: z.string().optional(),
        tokenFile: z.string().optional(),
        exec: z.unknown().optional(),
        'auth-provider': z.unknown().optional(),
      }),
    }),
  ),
  contexts: z.array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string(), namespace: z.string().optional() }) })),
});

type Read = (file: string) => string;
const readText: Read = (file) => readFileSync(file, 'utf8');

/**
 * The endpoint the settings point at: the kubeconfig's current context when `KUBECONFIG` is set (its files relative
 * to it, as kubectl reads them), else the pod's service account, as client-go's in-cluster config does.
 */
export function kubeEndpoint(settings: KubeSettings, read: Read = readText): KubeEndpoint {
  const reading: Read = (file) => {
    try {
      return read(file);
    } catch (err) {
      throw new KubeConfigError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (settings.KUBECONFIG) {
    // kubectl merges a list of files; this client reads one, and says so rather than guess.
    if (settings.KUBECONFIG.includes(':')) throw new KubeConfigError(`KUBECONFIG names several files (${settings.KUBECONFIG}): name one`);
    return fromKubeconfig(settings.KUBECONFIG, reading);
  }
  return inCluster(settings, reading);
}

function inCluster(settings: KubeSettings, read: Read): KubeEndpoint {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = settings;
  if (!host || !port) throw new KubeConfigError('no KUBECONFIG, and not in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset)');
  const tokenFile = path.join(SERVICE_ACCOUNT_DIR, 'token');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: read(path.join(SERVICE_ACCOUNT_DIR, 'ca.crt')),
    token: tokenFrom(tokenFile, read),
    namespace: read(path.join(SERVICE_ACCOUNT_DIR, 'namespace')).trim(),
  };
}

function fromKubeconfig(file: string, read: Read): KubeEndpoint {
  let document: unknown;
  try {
    document = parse(read(file));
  } catch (err) {
    throw err instanceof KubeConfigError ? err : new KubeConfigError(`${file}: not YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = KubeconfigSchema.safeParse(document);
  if (!parsed.success) throw new KubeConfigError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const config = parsed.data;
  const contextName = config['current-context'] ?? config.contexts[0]?.name;
  const context = config.contexts.find((c) => c.name === contextName)?.context;
  if (!context) throw new KubeConfigError(`${file}: no context ${contextName ?? '(none named)'}`);
  const cluster = config.clusters.find((c) => c.name === context.cluster)?.cluster;
  const user = config.users.find((u) => u.name === context.user)?.user;
  if (!cluster || !user) throw new KubeConfigError(`${file}: context ${contextName} names a cluster or user that is not there`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) throw new KubeConfigError(`${file}: user ${context.user} signs in through a plugin (exec or auth-provider), which this client does not run; use a certificate or a token`);
  const dir = path.dirname(file);
  // Inline data wins over a file, as in kubectl; a file is relative to the kubeconfig.
  const pem = (data: string | undefined, name: string | undefined) => (data ? Buffer.from(data, 'base64').toString('utf8') : name ? read(path.resolve(dir, name)) : undefined);
  const { token, tokenFile } = user;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: pem(user['client-certificate-data'], user['client-certificate']),
    key: pem(user['client-key-data'], user['client-key']),
    token: token !== undefined ? () => token : tokenFile !== undefined ? tokenFrom(path.resolve(dir, tokenFile), read) : undefined,
    namespace: context.namespace,
  };
}
