// The Kubernetes runtime against a real single-node cluster (tools/kube: kube-apiserver, scheduler,
// controller-manager, kubelet on containerd), which `npm test` starts for the *.kube.int.spec.ts specs and passes
// as VISP_TEST_KUBECONFIG (cluster admin). The session images come from Podman (tools/kube/images.sh); the
// namespaces and Roles are deploy/kubernetes's own, applied by the test runner.
import { readFileSync } from 'node:fs';
import { createLogger, SessionTypesSchema } from '@visp/config';
import { LABEL } from '@visp/contracts';
import { KubeClient, KubeError, kubeEndpoint } from '@visp/kube-client';
import { z } from 'zod';
import { waitFor } from '@visp/testing';
import { KubernetesRuntime } from './kubernetes-runtime';
import { newSessionId, newSessionToken } from './naming';
import { SpawnError, type SpawnRequest } from './session-runtime';

const NAMESPACE = 'visp-sessions';
const kubeconfig = process.env.VISP_TEST_KUBECONFIG ?? '';
const admin = new KubeClient(kubeEndpoint({ KUBECONFIG: kubeconfig }));
const logger = createLogger({ component: 'test', level: 'silent' });
const instance = `${process.env.VISP_TEST_INSTANCE_PREFIX ?? 'test'}-kube`;

const limits = { default: { memoryMiB: 64, cpus: 0.5, pids: 64 }, max: { memoryMiB: 262_144, cpus: 2, pids: 256 } };
const box = (command: string[], extra: object = {}) => ({ image: 'localhost/visp-testbox:1', port: 8080, user: '65534:65534', command, readinessPath: '/', baseUrlAware: false, tmpfsMiB: 16, limits, ...extra });
const TYPES = SessionTypesSchema.parse({
  box: box(['sh', '-c', 'echo the box is up; exec httpd -f -p 8080 -h /var/www']),
  absent: box(['true'], { image: 'localhost/visp-no-such-image:1' }),
  // Takes 20 s to shut down, as an app saving its work would.
  slowstop: box(['sh', '-c', 'trap "sleep 20; exit 0" TERM; httpd -f -p 8080 -h /var/www & wait']),
  // Holds one endless line in memory: killed by the kernel at the pod's memory limit.
  hog: box(['sh', '-c', 'head -c 512m /dev/zero | tail -n 1']),
});

function spawnRequest(typeName: keyof typeof TYPES, owner: string, limits = TYPES[typeName]!.limits.default): SpawnRequest {
  return { sid: newSessionId(), owner, typeName, type: TYPES[typeName]!, limits, createdAt: new Date(), token: newSessionToken() };
}

const settings = { instance, namespace: NAMESPACE, imagePullPolicy: 'Never' as const, homeSize: '64Mi', homeStorageClass: 'visp-test-local', servicesNamespace: 'visp' };
const runtime = new KubernetesRuntime(admin, settings, logger);
const within = (ms: number) => ({ signal: new AbortController().signal, deadline: Date.now() + ms });
const started: SpawnRequest[] = [];

afterAll(async () => {
  for (const request of started) await runtime.remove({ typeName: request.typeName, sid: request.sid });
  await admin.close();
});

async function start(request: SpawnRequest, ms = 60_000, on = runtime, steps: string[] = []) {
  started.push(request);
  return on.start(request, (step) => void steps.push(step), within(ms));
}

it('runs a session as a pod: reached at its address, found by its labels, its token and limits read back, gone when removed', async () => {
  const request = spawnRequest('box', 'ada@uni.se', { memoryMiB: 96, cpus: 0.5, pids: 64 });
  const steps: string[] = [];
  const pod = await start(request, 60_000, runtime, steps);
  expect(steps).toEqual(['creating', 'scheduled', 'starting']);
  expect(pod.target).toMatch(/^http:\/\/10\.244\.0\.\d+:8080$/);
  // The address comes with the sandbox; the app answers moments later.
  await waitFor('the app to answer at its pod address', async () => (await fetch(pod.target).catch(() => undefined))?.status === 200, 20_000, 100);

  expect(await runtime.logTail(pod.id, 5)).toBe('the box is up');
  const details = await runtime.inspect(pod.id, 8080, { token: true });
  expect(details).toMatchObject({ running: true, token: request.token, target: pod.target, limits: request.limits });
  expect((await runtime.list({ instance, sid: request.sid })).map((w) => [w.id, w.labels[LABEL.owner]])).toEqual([[pod.id, 'ada@uni.se']]);
  expect(await runtime.list({ instance: `${instance}-other` })).toEqual([]);

  // The kubelet put the limits on the pod's cgroup (cgroup v1, cgroupfs: kubepods/pod<uid>).
  const uid = (await admin.get(`/api/v1/namespaces/${NAMESPACE}/pods/${pod.id}`, z.object({ metadata: z.object({ uid: z.string() }) }))).metadata.uid;
  const memoryLimit = readFileSync(`/sys/fs/cgroup/memory/kubepods/pod${uid}/memory.limit_in_bytes`, 'utf8').trim();
  expect(Number(memoryLimit)).toBe(96 * 2 ** 20);

  const policy = `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies/visp-session-${request.sid}`;
  await expect(admin.get(policy, z.object({ spec: z.object({ podSelector: z.unknown() }) }))).resolves.toMatchObject({ spec: { podSelector: { matchLabels: { [LABEL.sessionId]: request.sid } } } });

  await runtime.remove({ typeName: request.typeName, sid: request.sid });
  const gone = await runtime.inspect(pod.id, 8080);
  expect(gone === undefined || gone.running === false).toBe(true);
  await expect(admin.get(`/api/v1/namespaces/${NAMESPACE}/secrets/visp-session-${request.sid}`, z.unknown())).rejects.toMatchObject({ status: 404 });
  await expect(admin.get(policy, z.unknown())).rejects.toMatchObject({ status: 404 });
});

it("says why a pod ended in Kubernetes' words: a session killed at its memory limit is OOMKilled", async () => {
  const request = spawnRequest('hog', 'ada@uni.se', { memoryMiB: 64, cpus: 0.5, pids: 64 });
  const pod = await start(request).catch((err: unknown) => (err instanceof SpawnError && /ended before it started/.test(err.message) ? undefined : Promise.reject(err)));
  const over = await waitFor('the pod to be over', async () => (await runtime.list({ instance, sid: request.sid })).find((w) => w.state === 'exited'), 30_000, 250);
  expect({ id: over.id, ended: over.ended }).toEqual({ id: pod?.id ?? over.id, ended: 'OOMKilled, exit code 137' });
});

it("tells of its instance's pods that end or go as the API server's watch does, and of no other instance's", async () => {
  const [mine, theirs] = [spawnRequest('box', 'ada@uni.se'), spawnRequest('box', 'ada@uni.se')];
  const other = new KubernetesRuntime(admin, { ...settings, instance: `${instance}-other` }, logger);
  await Promise.all([start(mine), start(theirs, 60_000, other)]);
  const ended: string[] = [];
  let watching = 0;
  const following = new AbortController();
  const followed = runtime.follow(instance, { ended: (sid) => void ended.push(sid), watching: () => void watching++ }, following.signal);
  try {
    await waitFor('the watch', async () => watching === 1, 10_000, 20);
    await other.remove({ typeName: 'box', sid: theirs.sid });
    await admin.delete(`/api/v1/namespaces/${NAMESPACE}/pods/visp-session-box-${mine.sid}`, { gracePeriodSeconds: 0 });
    await waitFor('the end told', async () => ended.includes(mine.sid), 10_000, 50);
    expect(new Set(ended)).toEqual(new Set([mine.sid]));
  } finally {
    following.abort();
    await followed;
  }
});

it('leaves a pod that someone else is deleting its grace period: what remains of its session goes, the pod when it is done', async () => {
  const request = spawnRequest('slowstop', 'ada@uni.se');
  const pod = await start(request);
  const podPath = `/api/v1/namespaces/${NAMESPACE}/pods/${pod.id}`;
  await admin.delete(podPath, { gracePeriodSeconds: 30 });
  await runtime.removeRemains({ sid: request.sid, workloadId: pod.id });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const Terminating = z.object({ metadata: z.object({ deletionTimestamp: z.string(), deletionGracePeriodSeconds: z.number() }) });
  expect((await admin.get(podPath, Terminating)).metadata.deletionGracePeriodSeconds).toBe(30);
  await expect(admin.get(`/api/v1/namespaces/${NAMESPACE}/secrets/visp-session-${request.sid}`, z.unknown())).rejects.toMatchObject({ status: 404 });
});

it('fails a pod whose image the node does not have at once, in the kubelet\'s words', async () => {
  const began = Date.now();
  const request = spawnRequest('absent', 'bea@uni.se');
  await expect(start(request, 60_000)).rejects.toThrow(/ErrImageNeverPull/);
  expect(Date.now() - began).toBeLessThan(30_000);
  // As the session-manager does after a failed start: its CPU request would otherwise stay on the node.
  await runtime.remove({ typeName: request.typeName, sid: request.sid });
});

it('tells when the kubelet pulls the image, and fails a pull that cannot succeed in its words', async () => {
  // Always pull: the kubelet asks the registry named `localhost` (loopback, where none listens) for the box.
  const pulls = new KubernetesRuntime(admin, { ...settings, imagePullPolicy: 'Always' }, logger);
  const steps: string[] = [];
  const request = spawnRequest('box', 'bea@uni.se');
  await expect(start(request, 30_000, pulls, steps)).rejects.toThrow(/(ErrImagePull|ImagePullBackOff): .*localhost\/visp-testbox:1/);
  await runtime.remove({ typeName: request.typeName, sid: request.sid });
  expect(steps).toEqual(['creating', 'scheduled', 'pulling']);
});

it('fails a pod that cannot be scheduled with the scheduler\'s reason', async () => {
  // Little CPU asked, so that memory alone is what the node lacks, whatever else runs on it.
  const request = spawnRequest('box', 'cal@uni.se', { memoryMiB: 262_144, cpus: 0.1, pids: 64 });
  const failure = await start(request, 5_000).catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(SpawnError);
  expect((failure as Error).message).toMatch(/^the pod did not start in time: Unschedulable: 0\/1 nodes are available: 1 Insufficient memory/);
});

it("acts as the session-manager's ServiceAccount with only what its Role allows (anything else is 403), and only sessions' own NetworkPolicies", async () => {
  const { status } = await admin.create(`/api/v1/namespaces/visp/serviceaccounts/visp-session-manager/token`, { spec: { expirationSeconds: 600 } }, z.object({ status: z.object({ token: z.string() }) }));
  const endpoint = kubeEndpoint({ KUBECONFIG: kubeconfig });
  const asManager = new KubeClient({ server: endpoint.server, ca: endpoint.ca, token: () => status.token });
  const refused = (call: Promise<unknown>) => call.then(() => 'allowed', (err: unknown) => (err instanceof KubeError ? err.status : String(err)));
  try {
    expect({
      getPodsHere: await refused(asManager.get(`/api/v1/namespaces/${NAMESPACE}/pods/no-such-pod`, z.unknown())),
      listPodsHere: await refused(asManager.get(`/api/v1/namespaces/${NAMESPACE}/pods`, z.unknown())),
      readSecretsHere: await refused(asManager.get(`/api/v1/namespaces/${NAMESPACE}/secrets`, z.unknown())),
      podsElsewhere: await refused(asManager.get('/api/v1/namespaces/kube-system/pods', z.unknown())),
      nodes: await refused(asManager.get('/api/v1/nodes', z.unknown())),
      execIntoPods: await refused(asManager.create(`/api/v1/namespaces/${NAMESPACE}/pods/no-such-pod/exec`, {}, z.unknown())),
    }).toEqual({ getPodsHere: 404, listPodsHere: 403, readSecretsHere: 403, podsElsewhere: 403, nodes: 403, execIntoPods: 403 });

    // Its Role lets it make and remove NetworkPolicies; the admission policy beside it lets it make only a session's
    // own, in the runtime's shape. A compromised session-manager tries to open the sessions up.
    const policies = `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`;
    const sid = 'attackaaaaaa';
    const own = new KubernetesRuntime(asManager, settings, logger).policySpec({ ...spawnRequest('box', 'ada@uni.se'), sid }) as { metadata: object; spec: { ingress: object[] } };
    const denied = (call: Promise<unknown>) => call.then(() => 'allowed', (err: unknown) => (err instanceof KubeError && /ValidatingAdmissionPolicy 'visp-session-networkpolicies'/.test(err.message) ? 'denied' : String(err)));
    const peer = (from: object) => ({ ...own, spec: { ...own.spec, ingress: [{ from: [from] }] } });
    expect({
      deleteDefaultDeny: await denied(asManager.delete(`${policies}/default-deny`)),
      anotherName: await denied(asManager.create(policies, { ...own, metadata: { name: 'open-everything' } }, z.unknown())),
      everyPod: await denied(asManager.create(policies, { ...own, spec: { ...own.spec, podSelector: {} } }, z.unknown())),
      fromAnywhere: await denied(asManager.create(policies, peer({ ipBlock: { cidr: '0.0.0.0/0' } }), z.unknown())),
      fromEveryPodOfTheServices: await denied(asManager.create(policies, peer({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'visp' } }, podSelector: {} }), z.unknown())),
      fromOtherSessions: await denied(asManager.create(policies, peer({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } }, podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['visp-gateway'] }] } }), z.unknown())),
      egressToo: await denied(asManager.create(policies, { ...own, spec: { ...own.spec, policyTypes: ['Ingress', 'Egress'], egress: [{}] } }, z.unknown())),
      itsOwn: await denied(asManager.create(policies, own, z.unknown())),
    }).toEqual({ deleteDefaultDeny: 'denied', anotherName: 'denied', everyPod: 'denied', fromAnywhere: 'denied', fromEveryPodOfTheServices: 'denied', fromOtherSessions: 'denied', egressToo: 'denied', itsOwn: 'allowed' });
    await asManager.delete(`${policies}/visp-session-${sid}`);
  } finally {
    await asManager.close();
  }
});
