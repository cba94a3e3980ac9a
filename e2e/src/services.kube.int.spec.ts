// deploy/kubernetes/services.yaml against the test cluster (tools/kube). First as it is: every object checked by a
// server-side dry run (schema, defaults, admission and Pod Security; nothing kept), the services' pods labelled and
// signed in as the sessions' NetworkPolicies and Roles expect. Then run, with only what this cluster needs changed: Service addresses instead of names (it runs no DNS), the test's storage and
// pull policy, and the development sign-in instead of the SSO proxy. Redis and FerretDB run beside them as the
// operator's datastores. The session-manager and recovery reach the API server as their ServiceAccounts from inside
// (the pod's service account, no kubeconfig); a session launched through one gateway replica is used through the
// other. The whisper-worker is left out (its image is the largest, and nothing of it is the cluster's).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SessionView } from '@visp/contracts';
import { testInstanceId, waitFor } from '@visp/testing';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { kubeTestCluster, removeInstance } from './kube';
import { TEST_SECRETS } from './launch';

const { admin } = kubeTestCluster;
const NS = 'visp';
const instance = testInstanceId();
const Manifest = z.object({ apiVersion: z.string(), kind: z.string(), metadata: z.object({ name: z.string() }).passthrough() }).passthrough();
type Manifest = z.infer<typeof Manifest>;
const manifests = (file: string) => parseAllDocuments(readFileSync(path.join(__dirname, '../../deploy/kubernetes', file), 'utf8')).map((doc) => Manifest.parse(doc.toJS()));
const services = manifests('services.yaml');
const TemplateSchema = z.object({
  spec: z.object({ template: z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()) }), spec: z.object({ serviceAccountName: z.string().optional() }).passthrough() }) }),
});
const pathOf = ({ apiVersion, kind }: Manifest, name?: string) => `/${apiVersion.includes('/') ? 'apis' : 'api'}/${apiVersion}/namespaces/${NS}/${kind.toLowerCase()}s`.replace(/ys$/, 'ies') + (name ? `/${name}` : '');

/** The operator's datastores, as restricted as the services: Redis and FerretDB from the images the container stack uses. */
function datastore(name: string, image: string, port: number, dataDir: string): Manifest[] {
  const labels = { 'app.kubernetes.io/name': name };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{ name, image, imagePullPolicy: 'Never', ports: [{ containerPort: port }], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }, volumeMounts: [{ name: 'data', mountPath: dataDir }] }],
            volumes: [{ name: 'data', emptyDir: {} }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: labels, ports: [{ port }] } },
  ];
}
const DATASTORES = [...datastore('visp-redis', 'localhost/visp-test-redis:1', 6379, '/data'), ...datastore('visp-mongo', 'localhost/visp-test-ferretdb:1', 27017, '/data/db')];
const made: Manifest[] = [];

async function make(object: Manifest): Promise<{ spec?: { clusterIP?: string } }> {
  made.push(object);
  return admin.create(pathOf(object), object, z.object({ spec: z.object({ clusterIP: z.string().optional() }).optional() }));
}

afterAll(async () => {
  for (const object of made.reverse()) await admin.delete(pathOf(object, object.metadata.name), { gracePeriodSeconds: 0 });
  await removeInstance(instance);
  await admin.close();
});

const PodList = z.object({ items: z.array(z.object({ metadata: z.object({ name: z.string() }), status: z.object({ podIP: z.string().optional(), conditions: z.array(z.object({ type: z.string(), status: z.string() })).optional() }) })) });
/** The ready pods of a Deployment, by its pods' label. */
const readyPods = async (app: string) =>
  (await admin.get(`/api/v1/namespaces/${NS}/pods`, PodList, { labelSelector: `app.kubernetes.io/name=${app}` })).items.filter((pod) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Each pod of the services' namespace: its phase, its containers' states, its last log lines (why a service is not ready). */
async function podsNow(): Promise<string> {
  const Pods = z.object({ items: z.array(z.object({ metadata: z.object({ name: z.string() }), status: z.object({ phase: z.string().optional(), containerStatuses: z.array(z.object({ ready: z.boolean(), restartCount: z.number(), state: z.record(z.string(), z.unknown()) })).optional() }) })) });
  const pods = await admin.get(`/api/v1/namespaces/${NS}/pods`, Pods);
  const lines = await Promise.all(
    pods.items.map(async ({ metadata: { name }, status }) => {
      const log = await admin.text(`/api/v1/namespaces/${NS}/pods/${name}/log`, { tailLines: 5 }).catch((err: Error) => err.message);
      return `${name}: ${status.phase ?? '?'} ${JSON.stringify(status.containerStatuses ?? [])}\n  ${log.trim().split('\n').join('\n  ')}`;
    }),
  );
  return lines.join('\n');
}

it("as it is, every object is accepted by the API server, and every service's pod by the services' namespace's restricted Pod Security level", async () => {
  const dryRun = (object: object, at: string) => admin.create(at, object, z.unknown(), { dryRun: 'All' }).then(() => 'accepted', (err: { status?: number; message?: string }) => `${err.status}: ${err.message}`);
  const answers: Record<string, string> = {};
  for (const object of services) answers[`${object.kind}/${object.metadata.name}`] = await dryRun(object, pathOf(object));
  // A Deployment is admitted whatever its pods; Pod Security is enforced on the pods it would make.
  for (const deployment of services.filter((o) => o.kind === 'Deployment')) {
    const { template } = TemplateSchema.parse(deployment).spec;
    answers[`Pod of ${deployment.metadata.name}`] = await dryRun({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${deployment.metadata.name}-dry`, labels: template.metadata.labels }, spec: template.spec }, `/api/v1/namespaces/${NS}/pods`);
  }
  expect(Object.values(answers).every((answer) => answer === 'accepted') ? 'all accepted' : answers).toBe('all accepted');
  expect(Object.keys(answers)).toHaveLength(services.length + 4);
});

it("the services that reach sessions carry the labels each session's NetworkPolicy lets in; the runtime's users act as the ServiceAccounts the Roles bind", () => {
  const deployments = Object.fromEntries(services.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, TemplateSchema.parse(o).spec.template]));
  const admitted = ['visp-gateway', 'visp-session-manager', 'visp-recovery'];
  expect(admitted.map((name) => deployments[name]?.metadata.labels['app.kubernetes.io/name'])).toEqual(admitted);
  const bound = manifests('rbac.yaml').filter((o) => o.kind === 'RoleBinding').map((o) => z.object({ subjects: z.array(z.object({ name: z.string() })) }).parse(o).subjects[0]?.name);
  expect({ sessionManager: deployments['visp-session-manager']?.spec.serviceAccountName, recovery: deployments['visp-recovery']?.spec.serviceAccountName }).toEqual({ sessionManager: 'visp-session-manager', recovery: 'visp-recovery' });
  expect(bound.sort()).toEqual(['visp-recovery', 'visp-session-manager']);
});

it('run from services.yaml inside the cluster: ready, a session started by the in-cluster session-manager as its ServiceAccount, launched through one gateway replica and used through the other', async () => {
  const address: Record<string, string> = {};
  for (const object of DATASTORES.filter((o) => o.kind === 'Service')) address[object.metadata.name] = (await make(object)).spec?.clusterIP ?? '';
  for (const object of DATASTORES.filter((o) => o.kind === 'Deployment')) await make(object);
  for (const object of services.filter((o) => o.kind === 'Service')) address[object.metadata.name] = (await make(object)).spec?.clusterIP ?? '';
  await make({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'visp-secrets' },
    stringData: {
      'service-token': TEST_SECRETS.SERVICE_TOKEN,
      'cookie-secret': TEST_SECRETS.COOKIE_SECRET,
      'sso-proxy-secret': 'in-cluster-sso-proxy-secret-0123456789',
      'redis-url': `redis://${address['visp-redis']}:6379`,
      'mongo-uri': `mongodb://${address['visp-mongo']}:27017/visp-incluster`,
    },
  });
  for (const object of services.filter((o) => o.kind !== 'Service' && o.metadata.name !== 'visp-whisper-worker')) {
    if (object.kind !== 'ConfigMap') {
      await make(object);
      continue;
    }
    const { data } = z.object({ data: z.record(z.string(), z.string()) }).parse(object);
    await make({
      ...object,
      data: {
        ...data,
        INSTANCE_ID: instance,
        SESSION_MANAGER_URL: data.SESSION_MANAGER_URL!.replace('visp-session-manager', address['visp-session-manager']!),
        RECOVERY_URL: data.RECOVERY_URL!.replace('visp-recovery', address['visp-recovery']!),
        KUBE_IMAGE_PULL_POLICY: 'Never',
        KUBE_HOME_SIZE: '64Mi',
        KUBE_HOME_STORAGE_CLASS: 'visp-test-local',
        AUTH_MODE: 'dev-key',
        ALLOW_DEV_KEY_IN_PRODUCTION: 'true',
        TEST_USER_LOGIN_KEY: TEST_SECRETS.TEST_USER_LOGIN_KEY,
      },
    });
  }

  // Ready by their own readiness probes (/readyz: Redis, MongoDB, and for the runtime's users the API server).
  const [gatewayA, gatewayB] = await waitFor('the services ready in the cluster', async () => {
    const [gateways, managers, recoveries] = await Promise.all(['visp-gateway', 'visp-session-manager', 'visp-recovery'].map(readyPods));
    return gateways?.length === 2 && managers?.length === 1 && recoveries?.length === 1 ? gateways.map((pod) => `http://${pod.status.podIP}:8080`) : undefined;
  }, 120_000, 1000).catch(async (err: Error) => Promise.reject(new Error(`${err.message}; the pods:\n${await podsNow()}`)));

  const signIn = await fetch(`${gatewayA}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: gatewayA! }, body: JSON.stringify({ username: 'ann', key: TEST_SECRETS.TEST_USER_LOGIN_KEY }) });
  expect(signIn.status).toBe(200);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const call = (base: string, route: string, init: { method?: string; body?: object } = {}) =>
    fetch(`${base}${route}`, { method: init.method ?? 'GET', headers: { cookie, origin: base, ...(init.body ? { 'content-type': 'application/json' } : {}) }, body: init.body ? JSON.stringify(init.body) : undefined });

  const launched = await call(gatewayA!, '/api/v1/sessions', { method: 'POST', body: { type: 'rstudio', limits: { cpus: 0.5, memoryMiB: 512 } } });
  expect(launched.status).toBe(202);
  const { sid } = (await launched.json()) as SessionView;
  const ready = await waitFor(`session ${sid} over its start`, async () => {
    const view = (await (await call(gatewayA!, `/api/v1/sessions/${sid}`)).json()) as SessionView;
    return ['ready', 'failed', 'stopped'].includes(view.state) ? view : undefined;
  }, 90_000, 250);
  expect({ state: ready.state, reason: ready.reason }).toEqual({ state: 'ready', reason: undefined });
  // The other replica learned the route by pub/sub and proxies to the pod.
  expect(await (await call(gatewayB!, `/s/${sid}/`)).text()).toContain('VISP R session');

  expect(await (await call(gatewayB!, `/api/v1/sessions/${sid}`, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
  await expect(admin.get(`/api/v1/namespaces/visp-sessions/pods/visp-session-rstudio-${sid}`, z.unknown())).rejects.toMatchObject({ status: 404 });
}, 300_000);
