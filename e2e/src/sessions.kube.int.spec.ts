// The Podman runtime's session scenarios with SESSION_RUNTIME=kubernetes, against a real single-node cluster
// (tools/kube, started by `npm test` for the *.kube.int.spec.ts specs): the gateway, session-manager and recovery
// as built, each runtime user acting as its own ServiceAccount (deploy/kubernetes/rbac.yaml), so the Roles are
// shown to be enough. The gateway reaches the pods at their IPs, as the session-manager and recovery do.
import { readFileSync } from 'node:fs';
import { closeRedis, createRedis, keys, RedisRouteTable } from '@visp/bus';
import { LABEL, type SessionView } from '@visp/contracts';
import { openStore, type Store } from '@visp/store';
import { execute, openKernel, waitFor } from '@visp/testing';
import WebSocket from 'ws';
import { z } from 'zod';
import { useGatewayStack, type Auth } from './gateway-stack';
import { kubeconfigAs, kubeTestCluster, removeInstance } from './kube';
import { launch, TEST_SECRETS, untilReady, type Launched } from './launch';

const { admin, NAMESPACE, KUBE } = kubeTestCluster;
const kubeconfigs: Record<string, string> = {};
// Before the stack's own beforeAll, which starts the session-manager with the first of them.
beforeAll(async () => {
  kubeconfigs.sessionManager = await kubeconfigAs('visp-session-manager');
  kubeconfigs.recovery = await kubeconfigAs('visp-recovery');
});
const stack = useGatewayStack({ sessionManager: 19520, gateway: 19580 }, 'kube', {}, {
  sessionManagerEnv: { ...KUBE, MAX_SESSIONS_PER_USER: '2', SESSION_START_TIMEOUT: '30' },
  sessionManagerEnvAtStart: () => ({ KUBECONFIG: kubeconfigs.sessionManager ?? '' }),
});
const { api, signIn } = stack;
const redis = createRedis(stack.redisUrl(), { name: 'e2e-kube' });
const routes = new RedisRouteTable(redis);
let store: Store;
const recoveries: Launched[] = [];

beforeAll(async () => {
  store = await openStore(stack.env().MONGO_URI ?? '');
});
afterAll(async () => {
  for (const r of recoveries) r.child.kill('SIGTERM');
  await Promise.all(recoveries.map((r) => r.exited));
  await removeInstance(stack.instance);
  await store.close();
  await closeRedis(redis);
});

const PodSchema = z.object({ metadata: z.object({ uid: z.string(), labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()) }), status: z.object({ podIP: z.string().optional() }) });
const podOf = (type: string, sid: string) => admin.get(`/api/v1/namespaces/${NAMESPACE}/pods/visp-session-${type}-${sid}`, PodSchema);
const PolicySchema = z.object({ spec: z.object({ podSelector: z.unknown(), policyTypes: z.array(z.string()), ingress: z.array(z.unknown()).optional() }) });
const policyOf = (sid: string) => admin.get(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies/visp-session-${sid}`, PolicySchema);

/** Launches as the start page does and follows it until it is over; the limits fit the test node's two CPUs. */
async function launchSession(auth: Auth, type: string, limits: object = { cpus: 0.5, memoryMiB: 1024 }): Promise<SessionView> {
  const res = await api('/api/v1/sessions', auth, { method: 'POST', body: { type, ...(type === 'jupyter' || type === 'rstudio' ? { limits } : {}) } });
  expect(res.status).toBe(202);
  const { sid } = (await res.json()) as SessionView;
  return waitFor(`session ${sid} over its start`, async () => {
    const view = (await (await api(`/api/v1/sessions/${sid}`, auth)).json()) as SessionView;
    return ['ready', 'failed', 'stopped'].includes(view.state) ? view : undefined;
  }, 90_000, 250);
}

/** Recovery with passes an hour apart: the spec asks for the passes it needs, so that what happens between them is the watch's doing. */
function startRecovery(port: number): Launched {
  const run = launch('recovery', { ...stack.env(), ...KUBE, KUBECONFIG: kubeconfigs.recovery ?? '', PORT: String(port), RECOVERY_INTERVAL: '3600', LOG_LEVEL: 'info' });
  recoveries.push(run);
  return run;
}
const reconcile = (port: number) => fetch(`http://127.0.0.1:${port}/admin/reconcile`, { method: 'POST', headers: { 'x-service-token': TEST_SECRETS.SERVICE_TOKEN } });

const UidSchema = z.object({ metadata: z.object({ uid: z.string() }) });
const restricted = { runAsNonRoot: true, runAsUser: 65534, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
const podOfBox = (name: string, labels: object, command: string[]) => ({ metadata: { name, labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: 'localhost/visp-testbox:1', imagePullPolicy: 'Never', command, securityContext: restricted }] } });

/** Objects in the sessions' namespace that are not this instance's, each with its path and uid (a replacement would have another). */
async function plantForeign(otherInstance: string): Promise<Array<{ path: string; uid: string }>> {
  const sid = 'zzzzzzzzzzzz';
  const ours = { [LABEL.managed]: 'true', [LABEL.instance]: otherInstance, [LABEL.sessionId]: sid };
  const planted = [
    [`/api/v1/namespaces/${NAMESPACE}/pods`, podOfBox(`bystander-${Date.now()}`, { app: 'not-visp' }, ['httpd', '-f', '-p', '8080'])],
    [`/api/v1/namespaces/${NAMESPACE}/pods`, podOfBox(`visp-session-echo-${sid}`, { ...ours, [LABEL.schema]: '1', [LABEL.sessionType]: 'echo' }, ['true'])],
    [`/api/v1/namespaces/${NAMESPACE}/secrets`, { metadata: { name: 'visp-session-yyyyyyyyyyyy', labels: { ...ours, [LABEL.sessionId]: 'yyyyyyyyyyyy' } }, stringData: { token: 'x' } }],
    [`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`, { metadata: { name: 'visp-session-yyyyyyyyyyyy', labels: { ...ours, [LABEL.sessionId]: 'yyyyyyyyyyyy' } }, spec: { podSelector: { matchLabels: ours } } }],
  ] as const;
  const made = [];
  for (const [path, body] of planted) {
    const { metadata } = await admin.create(path, body, z.object({ metadata: z.object({ name: z.string(), uid: z.string() }) }));
    made.push({ path: `${path}/${metadata.name}`, uid: metadata.uid });
  }
  return made;
}

let jupyter: SessionView;
let kernel: string;
let ann: Auth;

it('Jupyter as a pod through the gateway: its kernel over WebSocket, a file in the home claim, its limits in the pod\'s cgroup, its labels and annotations', async () => {
  ann = await signIn('ann');
  jupyter = await launchSession(ann, 'jupyter', { cpus: 0.5, memoryMiB: 1536 });
  expect(jupyter).toMatchObject({ state: 'ready', limits: { cpus: 0.5, memoryMiB: 1536 } });
  const created = await api(`/s/${jupyter.sid}/api/kernels`, ann, { method: 'POST', body: { name: 'python3' } });
  ({ id: kernel } = (await created.json()) as { id: string });
  const ws = await openKernel(`${stack.url.replace('http', 'ws')}/s/${jupyter.sid}/api/kernels/${kernel}/channels`, { ...ann, ...stack.origin });
  expect(await execute(ws, "import os\nopen(os.path.expanduser('~/kept.txt'), 'w').write('hello')\nanswer = 41\nanswer")).toBe('41');
  // The root filesystem is read-only: /var/tmp, open to every user of a writable root, is refused; /tmp is the pod's own.
  const tryWrite = (file: string) => `import errno\ntry:\n    open('${file}', 'w').write('x'); r = 'written'\nexcept OSError as e:\n    r = errno.errorcode[e.errno]\nr`;
  expect({ varTmp: await execute(ws, tryWrite('/var/tmp/planted')), tmp: await execute(ws, tryWrite('/tmp/scratch')) }).toEqual({ varTmp: "'EROFS'", tmp: "'written'" });
  ws.close();

  const pod = await podOf('jupyter', jupyter.sid);
  const memory = readFileSync(`/sys/fs/cgroup/memory/kubepods/pod${pod.metadata.uid}/memory.limit_in_bytes`, 'utf8').trim();
  const quota = readFileSync(`/sys/fs/cgroup/cpu/kubepods/pod${pod.metadata.uid}/cpu.cfs_quota_us`, 'utf8').trim();
  expect({ memory: Number(memory), quota: Number(quota) }).toEqual({ memory: 1536 * 2 ** 20, quota: 50_000 });
  expect(pod.metadata.labels).toMatchObject({ [LABEL.managed]: 'true', [LABEL.instance]: stack.instance, [LABEL.sessionId]: jupyter.sid, [LABEL.sessionType]: 'jupyter' });
  expect(pod.metadata.annotations).toMatchObject({ [LABEL.owner]: 'ann' });
  // Its own NetworkPolicy: only the services' pods, to this pod's app port.
  expect((await policyOf(jupyter.sid)).spec).toMatchObject({ podSelector: { matchLabels: { [LABEL.sessionId]: jupyter.sid, [LABEL.instance]: stack.instance } }, ingress: [{ ports: [{ protocol: 'TCP', port: 8888 }] }] });
  // The token is in the Secret, not in the pod's spec.
  const spec = JSON.stringify(await admin.get(`/api/v1/namespaces/${NAMESPACE}/pods/visp-session-jupyter-${jupyter.sid}`, z.unknown()));
  expect(spec).not.toContain((await routes.get(jupyter.sid))?.token ?? 'no route');
}, 180_000);

it('the R stand-in as a pod over HTTP and WebSocket through the prefix-stripping proxy', async () => {
  const hana = await signIn('hana');
  const session = await launchSession(hana, 'rstudio');
  expect(session.state).toBe('ready');
  expect(await (await api(`/s/${session.sid}/`, hana)).text()).toContain('VISP R session');
  const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/s/${session.sid}/websocket/`, { headers: { ...hana, ...stack.origin } });
  const first = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
  });
  ws.close();
  expect(first).toContain('config');
  expect(await (await api(`/api/v1/sessions/${session.sid}`, hana, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
  await expect(podOf('rstudio', session.sid)).rejects.toMatchObject({ status: 404 });
}, 180_000);

it('holds each user to their limit, and fails a pod no node can take with the scheduler\'s reason', async () => {
  const bo = await signIn('bo');
  const first = await launchSession(bo, 'echo');
  const second = await api('/api/v1/sessions', bo, { method: 'POST', body: { type: 'jupyter', limits: { cpus: 4, memoryMiB: 1024 } } });
  expect(second.status).toBe(202);
  const third = await api('/api/v1/sessions', bo, { method: 'POST', body: { type: 'echo' } });
  expect({ status: third.status, body: await third.json() }).toMatchObject({ status: 409, body: { error: { message: 'bo already has 2 active session(s), the most allowed; stop one first' } } });
  const { sid } = (await second.json()) as SessionView;
  const failed = await waitFor('the unschedulable session to fail', async () => {
    const view = (await (await api(`/api/v1/sessions/${sid}`, bo)).json()) as SessionView;
    return view.state === 'failed' ? view : undefined;
  }, 60_000, 500);
  expect(failed.reason).toMatch(/^the pod did not start in time: Unschedulable: 0\/1 nodes are available: 1 Insufficient cpu/);
  await expect(podOf('jupyter', sid)).rejects.toMatchObject({ status: 404 });
  expect(await (await api(`/api/v1/sessions/${first.sid}`, bo, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 120_000);

it('after a kill -9 of the session-manager, with records and routes wiped, recovery rebuilds the session from its pod: same token, the kernel keeps its state; an evicted pod ends its session with the reason', async () => {
  const cy = await signIn('cy');
  const echo = await launchSession(cy, 'echo');
  const tokenBefore = (await routes.get(jupyter.sid))?.token;
  const manager = stack.sessionManager();
  manager.child.kill('SIGKILL');
  await manager.exited;
  await store.connection.collection('sessions').deleteMany({});
  await redis.del(keys.routes);

  // Bait for a recovery that looked past its own: a pod it does not manage, and an exited session pod, a Secret and
  // a NetworkPolicy of another instance whose session has no pod (what recovery removes of its own).
  const bait = await plantForeign(`${stack.instance}-other`);

  const recovery = startRecovery(19530);
  await untilReady(recovery, 19530, 20_000);
  for (const sid of [jupyter.sid, echo.sid]) {
    const record = await waitFor(`session ${sid} adopted`, async () => (expect((await reconcile(19530)).status).toBe(200), (await store.sessions.getAnyOwner(sid))?.state === 'ready' ? store.sessions.getAnyOwner(sid) : undefined), 60_000, 250);
    expect(record).toMatchObject({ state: 'ready', instance: stack.instance, adoptedAt: expect.any(Date) });
  }
  expect((await store.sessions.getAnyOwner(jupyter.sid))).toMatchObject({ owner: 'ann', limits: { cpus: 0.5, memoryMiB: 1536 } });
  expect((await routes.get(jupyter.sid))?.token).toBe(tokenBefore);
  const ws = await openKernel(`${stack.url.replace('http', 'ws')}/s/${jupyter.sid}/api/kernels/${kernel}/channels`, { ...ann, ...stack.origin });
  expect(await execute(ws, "answer + 1 if open(__import__('os').path.expanduser('~/kept.txt')).read() == 'hello' else 0")).toBe('42');
  ws.close();

  // The pod is evicted (a drain, a node's pressure): recovery's watch sees it end, and the pass it makes at once
  // ends the session, says why in Kubernetes' words, and drops its route; the next timed pass is an hour away.
  const name = `visp-session-echo-${echo.sid}`;
  await admin.create(`/api/v1/namespaces/${NAMESPACE}/pods/${name}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: NAMESPACE } }, z.unknown());
  const over = await waitFor('the session without its pod to end', async () => {
    const record = await store.sessions.getAnyOwner(echo.sid);
    return record && record.state !== 'ready' ? record : undefined;
  }, 15_000, 250);
  // Seen gone (lost) or seen over (its container exited), with the eviction's own words either way.
  expect({ state: over.state, reason: over.reason }).toEqual({ state: 'stopped', reason: expect.stringMatching(/^(lost|its container exited) \(EvictionByEvictionAPI: .+\)$/) });
  expect(await routes.get(echo.sid)).toBeUndefined();
  expect((await api(`/s/${echo.sid}/`, cy)).status).toBe(404);

  // Passes later, everything it does not manage is as it was.
  expect((await reconcile(19530)).status).toBe(200);
  expect(await Promise.all(bait.map(async ({ path, uid }) => (await admin.get(path, UidSchema)).metadata.uid === uid))).toEqual(bait.map(() => true));
  await removeInstance(`${stack.instance}-other`);
  await admin.delete(bait[0]!.path, { gracePeriodSeconds: 0 });

  recovery.child.kill('SIGTERM');
  await recovery.exited;
  await stack.startSessionManager();
  expect(await (await api(`/api/v1/sessions/${jupyter.sid}`, ann, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
  await expect(podOf('jupyter', jupyter.sid)).rejects.toMatchObject({ status: 404 });
  await expect(policyOf(jupyter.sid)).rejects.toMatchObject({ status: 404 });
}, 240_000);

// The bridge CNI of the test cluster does not enforce NetworkPolicies (Calico or Cilium do): the objects are
// checked as deployed, not the traffic. Pod Security is enforced by the API server itself, so it is attacked.
it('the sessions\' namespace: its NetworkPolicy as deployed, and a pod that would run as root or privileged refused by the restricted Pod Security level', async () => {
  const policy = (name: string) => admin.get(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies/${name}`, PolicySchema);
  // Everything closed, in and out; each session's own policy (above) is its only way in.
  expect((await policy('default-deny')).spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

  const attempt = (securityContext: object) =>
    admin
      .create(`/api/v1/namespaces/${NAMESPACE}/pods`, { metadata: { name: `attack-${Date.now()}` }, spec: { containers: [{ name: 'x', image: 'localhost/visp-testbox:1', imagePullPolicy: 'Never', command: ['true'], securityContext }] } }, z.unknown())
      .then(() => 'admitted', (err: { status?: number; message?: string }) => `${err.status}: ${/violates PodSecurity "restricted/.test(err.message ?? '') ? 'restricted' : err.message}`);
  expect({
    root: await attempt({ runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } }),
    privileged: await attempt({ privileged: true, runAsNonRoot: true, runAsUser: 1000 }),
    withCapabilities: await attempt({ runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { add: ['NET_RAW'] }, seccompProfile: { type: 'RuntimeDefault' } }),
  }).toEqual({ root: '403: restricted', privileged: '403: restricted', withCapabilities: '403: restricted' });
});
