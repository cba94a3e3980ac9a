import { BUILTIN_SESSION_TYPES, createLogger } from '@visp/config';
import { LABEL } from '@visp/contracts';
import { KubeError, type KubeClient } from '@visp/kube-client';
import { homeVolumeName } from '@visp/podman-client';
import { KubernetesRuntime } from './kubernetes-runtime';
import { SpawnError, type SpawnRequest } from './session-runtime';

const request: SpawnRequest = {
  sid: 'abcdefghij23',
  owner: 'ada@uni.se',
  typeName: 'jupyter',
  type: BUILTIN_SESSION_TYPES.jupyter,
  limits: { memoryMiB: 512, cpus: 0.5, pids: 128 },
  createdAt: new Date('2026-12-06T10:00:00Z'),
  token: 't'.repeat(32),
};
const settings = { instance: 'unit', namespace: 'visp-sessions', imagePullPolicy: 'Never' as const, homeSize: '1Gi', servicesNamespace: 'visp' };
const within = (ms: number, signal = new AbortController().signal) => ({ signal, deadline: Date.now() + ms });
const logger = createLogger({ component: 'test', level: 'silent' });

/** A pure unit test's stand-in for the API server: what was asked, pods that answer as scripted, and the kubelet's `Pulling` events. */
function fakeKube(podAnswers: object[], pullingAfterGets = Infinity) {
  const calls: string[] = [];
  const created: Record<string, unknown> = {};
  const kube = {
    create: async (path: string, body: { metadata: { name: string } }) => {
      calls.push(`create ${path.split('/').pop()} ${body.metadata.name}`);
      created[path.split('/').pop() ?? ''] = body;
      if (path.endsWith('persistentvolumeclaims')) throw new KubeError(409, 'AlreadyExists', 'exists');
      return { ...body, spec: { containers: [] } };
    },
    get: async (path: string) => {
      calls.push(`get ${path}`);
      if (path.endsWith('/events')) return { items: calls.length > pullingAfterGets ? [{ reason: 'Pulling' }] : [] };
      return podAnswers.length > 1 ? podAnswers.shift() : podAnswers[0];
    },
    delete: async (path: string) => void calls.push(`delete ${path}`),
  };
  return { kube: kube as unknown as KubeClient, calls, created };
}

const pod = (status: object, extra: object = {}) => ({ metadata: { name: 'visp-session-jupyter-abcdefghij23', ...extra }, spec: { containers: [{}] }, status });

describe('KubernetesRuntime.start', () => {
  it('makes the home claim (kept if there), the Secret, the NetworkPolicy and the pod, and answers with the pod address once its container runs', async () => {
    const { kube, calls } = fakeKube([pod({ phase: 'Pending' }), pod({ phase: 'Pending', podIP: '10.244.0.7' }), pod({ phase: 'Running', podIP: '10.244.0.7' })]);
    const started = await new KubernetesRuntime(kube, settings, logger).start(request, () => undefined, within(2000));
    expect(started).toEqual({ id: 'visp-session-jupyter-abcdefghij23', target: 'http://10.244.0.7:8888' });
    // The policy before the pod: a pod is never up without its own way in, nor its Secret.
    expect(calls.slice(0, 4)).toEqual([
      `create persistentvolumeclaims ${homeVolumeName('ada@uni.se')}`,
      'create secrets visp-session-abcdefghij23',
      'create networkpolicies visp-session-abcdefghij23',
      'create pods visp-session-jupyter-abcdefghij23',
    ]);
  });

  it("fails at once, in Kubernetes' words, on a pod that can never run, and at the timeout with the scheduler's reason", async () => {
    const never = fakeKube([pod({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ErrImageNeverPull', message: 'Container image "localhost/x:1" is not present with pull policy of Never' } } }] })]);
    await expect(new KubernetesRuntime(never.kube, settings, logger).start(request, () => undefined, within(2000))).rejects.toThrow(new SpawnError('ErrImageNeverPull: Container image "localhost/x:1" is not present with pull policy of Never'));
    const unschedulable = fakeKube([pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }] })]);
    await expect(new KubernetesRuntime(unschedulable.kube, settings, logger).start(request, () => undefined, within(300))).rejects.toThrow('the pod did not start in time: Unschedulable: 0/1 nodes are available: 1 Insufficient memory.');
  });
});

describe('KubernetesRuntime.start, its steps', () => {
  const scheduled = (status: object) => ({ ...pod(status), spec: { nodeName: 'node-1', containers: [{}] } });
  const stepsOf = async (answers: object[], pullingAfterGets?: number) => {
    const steps: string[] = [];
    await new KubernetesRuntime(fakeKube(answers, pullingAfterGets).kube, settings, logger).start(request, (step, message) => void steps.push(`${step}: ${message}`), within(5000));
    return steps;
  };
  it('tells creating, scheduled and starting once each; pulling only when the kubelet pulls', async () => {
    const answers = () => [pod({ phase: 'Pending' }), scheduled({ phase: 'Pending' }), scheduled({ phase: 'Pending', podIP: '10.244.0.7' }), scheduled({ phase: 'Running', podIP: '10.244.0.7' })];
    expect(await stepsOf(answers())).toEqual(['creating: creating the pod', 'scheduled: scheduled on a node', 'starting: the container started']);
    expect(await stepsOf(answers(), 0)).toEqual(['creating: creating the pod', 'scheduled: scheduled on a node', 'pulling: pulling localhost/visp-session-jupyter:1', 'starting: the container started']);
  });
});

describe('KubernetesRuntime.start, its events unreadable', () => {
  it('starts all the same, without a pulling step, and asks for the events once', async () => {
    const scheduledPending = { metadata: { name: 'visp-session-jupyter-abcdefghij23' }, spec: { nodeName: 'node-1', containers: [{}] }, status: { phase: 'Pending' } };
    const answers = [scheduledPending, scheduledPending, scheduledPending, scheduledPending, scheduledPending, { ...scheduledPending, status: { phase: 'Running', podIP: '10.244.0.7' } }];
    const { kube, calls } = fakeKube(answers);
    const refusing = { ...kube, get: async (path: string, ...rest: unknown[]) => (path.endsWith('/events') ? (calls.push(`get ${path}`), Promise.reject(new KubeError(403, 'Forbidden', 'events'))) : kube.get(path, ...(rest as [never]))) } as unknown as KubeClient;
    const steps: string[] = [];
    await new KubernetesRuntime(refusing, settings, logger).start(request, (step) => void steps.push(step), within(5000));
    expect(steps).toEqual(['creating', 'scheduled', 'starting']);
    expect(calls.filter((c) => c.endsWith('/events'))).toHaveLength(1);
  });
});

describe('KubernetesRuntime.start, cut short', () => {
  it('gives up at once when the session is stopped while its pod waits, and says why a pod the kubelet refused ended', async () => {
    const waiting = fakeKube([pod({ phase: 'Pending' })]);
    const stop = new AbortController();
    const started = new KubernetesRuntime(waiting.kube, settings, logger).start(request, () => undefined, within(60_000, stop.signal));
    setTimeout(() => stop.abort(), 50);
    await expect(started).rejects.toThrow('the session was stopped while its pod started');
    const refused = fakeKube([pod({ phase: 'Failed', reason: 'OutOfmemory', message: 'Pod Node didn\'t have enough resource: memory' })]);
    await expect(new KubernetesRuntime(refused.kube, settings, logger).start(request, () => undefined, within(60_000))).rejects.toThrow("the pod ended before it started: OutOfmemory: Pod Node didn't have enough resource: memory");
  });
});

describe('KubernetesRuntime pod spec', () => {
  const { kube } = fakeKube([]);
  const spec = new KubernetesRuntime(kube, settings, logger).podSpec(request) as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    spec: { securityContext: object; automountServiceAccountToken: boolean; containers: Array<{ env: Array<{ name: string; value?: string; valueFrom?: object }>; securityContext: object; resources: object; imagePullPolicy: string; args?: string[] }> };
  };
  const container = spec.spec.containers[0]!;

  it('runs non-root, without capabilities, escalation or a service account token, read-only but where the type says, with requests equal to limits', () => {
    expect(spec.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.spec.automountServiceAccountToken).toBe(false);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const writable = new KubernetesRuntime(fakeKube([]).kube, settings, logger).podSpec({ ...request, type: { ...request.type, writableRoot: true } });
    expect(JSON.stringify(writable)).toContain('"readOnlyRootFilesystem":false');
    expect(container.resources).toEqual({ requests: { memory: '512Mi', cpu: '0.5' }, limits: { memory: '512Mi', cpu: '0.5' } });
    expect(container.imagePullPolicy).toBe('Never');
    expect(container.args).toContain('--ServerApp.base_url=/s/abcdefghij23/');
  });

  it('never carries the token in clear: it is read from the Secret, and put where the type wants it by reference', () => {
    expect(JSON.stringify(spec)).not.toContain(request.token);
    expect(container.env[0]).toEqual({ name: 'VISP_SESSION_TOKEN', valueFrom: { secretKeyRef: { name: 'visp-session-abcdefghij23', key: 'token' } } });
    expect(container.env).toContainEqual({ name: 'JUPYTER_TOKEN', value: '$(VISP_SESSION_TOKEN)' });
    // A type of the operator's with the token in its command and inside a longer value.
    const custom = { ...BUILTIN_SESSION_TYPES.jupyter, command: ['serve', '--token={token}'], env: { AUTH: 'Bearer {token}' } };
    const customSpec = JSON.stringify(new KubernetesRuntime(fakeKube([]).kube, settings, logger).podSpec({ ...request, type: custom }));
    expect(customSpec).not.toContain(request.token);
    expect(customSpec).toContain('"--token=$(VISP_SESSION_TOKEN)"');
    expect(customSpec).toContain('"value":"Bearer $(VISP_SESSION_TOKEN)"');
  });

  it('selects by labels that a label value can hold; owner, creation time and limits ride in annotations', () => {
    expect(spec.metadata.labels).toEqual({ [LABEL.managed]: 'true', [LABEL.instance]: 'unit', [LABEL.schema]: '1', [LABEL.sessionId]: 'abcdefghij23', [LABEL.sessionType]: 'jupyter' });
    expect(spec.metadata.annotations).toMatchObject({ [LABEL.owner]: 'ada@uni.se', [LABEL.created]: '2026-12-06T10:00:00.000Z', [LABEL.limits]: JSON.stringify(request.limits) });
  });
});

describe("KubernetesRuntime's NetworkPolicy per session", () => {
  it("lets only the services' gateway, session-manager and recovery pods in, to this session's pod and its app's port", () => {
    const policy = new KubernetesRuntime(fakeKube([]).kube, settings, logger).policySpec(request);
    const own = { [LABEL.managed]: 'true', [LABEL.instance]: 'unit', [LABEL.sessionId]: 'abcdefghij23' };
    expect(policy).toEqual({
      metadata: { name: 'visp-session-abcdefghij23', labels: own },
      spec: {
        podSelector: { matchLabels: own },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'visp' } }, podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['visp-gateway', 'visp-session-manager', 'visp-recovery'] }] } }],
            ports: [{ protocol: 'TCP', port: 8888 }],
          },
        ],
      },
    });
  });

  it('is removed after the pod is gone and before the Secret: a policy never outlives its Secret, which recovery finds leftovers by', async () => {
    const gone = new KubeError(404, 'NotFound', 'gone');
    const calls: string[] = [];
    const kube = {
      get: async () => Promise.reject(gone),
      delete: async (path: string) => void calls.push(`delete ${path.split('/').slice(-2).join(' ')}`),
    } as unknown as KubeClient;
    await new KubernetesRuntime(kube, settings, logger).remove({ typeName: 'jupyter', sid: 'abcdefghij23' });
    expect(calls).toEqual(['delete pods visp-session-jupyter-abcdefghij23', 'delete networkpolicies visp-session-abcdefghij23', 'delete secrets visp-session-abcdefghij23']);
  });
});

describe('KubernetesRuntime, why a pod ended', () => {
  const over = (status: object) => new KubernetesRuntime(fakeKube([{ items: [pod({ phase: 'Failed', ...status })] }]).kube, settings, logger).list();
  it("says it in Kubernetes' words: a disruption first, then the kubelet's eviction, then a container killed for its memory; nothing more for a plain exit", async () => {
    const disrupted = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' };
    const oom = { containerStatuses: [{ state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] };
    expect((await over({ conditions: [disrupted], reason: 'Evicted', message: 'x', ...oom }))[0]?.ended).toBe('EvictionByEvictionAPI: Eviction API: evicting');
    expect((await over({ reason: 'Evicted', message: 'The node was low on resource: memory.', ...oom }))[0]?.ended).toBe('Evicted: The node was low on resource: memory.');
    expect((await over(oom))[0]?.ended).toBe('OOMKilled, exit code 137');
    expect((await over({ containerStatuses: [{ state: { terminated: { exitCode: 1, reason: 'Error' } } }] }))[0]).not.toHaveProperty('ended');
  });
});

describe('KubernetesRuntime.inspect', () => {
  it('reads state, failure, token and limits back from the pod and its Secret; undefined once the pod is gone', async () => {
    const annotations = { [LABEL.owner]: 'ada@uni.se', [LABEL.limits]: JSON.stringify(request.limits) };
    const running = pod({ phase: 'Running', podIP: '10.244.0.7' }, { labels: { [LABEL.sessionId]: 'abcdefghij23' }, annotations });
    const { kube } = fakeKube([running, { data: { token: Buffer.from(request.token).toString('base64') } }]);
    await expect(new KubernetesRuntime(kube, settings, logger).inspect('visp-session-jupyter-abcdefghij23', 8888, { token: true })).resolves.toMatchObject({
      state: 'running',
      running: true,
      token: request.token,
      limits: request.limits,
      target: 'http://10.244.0.7:8888',
      labels: { [LABEL.owner]: 'ada@uni.se', [LABEL.sessionId]: 'abcdefghij23' },
    });
    const gone = { get: async () => Promise.reject(new KubeError(404, 'NotFound', 'gone')) } as unknown as KubeClient;
    await expect(new KubernetesRuntime(gone, settings, logger).inspect('x', 8888)).resolves.toBeUndefined();
  });
});
