// The warm pool on Kubernetes (SESSION_RUNTIME=kubernetes, the real single-node cluster of tools/kube): a session
// prepared at sign-in is a pod labelled prepared, reachable by nobody, and the owner's launch takes it ready, its
// route set from the token the pod holds. The same as e2e/src/warm.int.spec.ts does on Podman.
import { RedisRouteTable, closeRedis, createRedis } from '@visp/bus';
import { FINAL_SESSION_STATES, LABEL, type SessionView } from '@visp/contracts';
import { openStore, type SessionRecord, type Store } from '@visp/store';
import { waitFor } from '@visp/testing';
import { z } from 'zod';
import { useGatewayStack } from './gateway-stack';
import { kubeconfigAs, kubeTestCluster, removeInstance } from './kube';

const { admin, NAMESPACE, KUBE } = kubeTestCluster;
let kubeconfig = '';
// Before the stack's own beforeAll, which starts the session-manager with it.
beforeAll(async () => {
  kubeconfig = await kubeconfigAs('visp-session-manager');
});
const stack = useGatewayStack({ sessionManager: 19420, gateway: 19480 }, 'kubewarm', {}, {
  sessionManagerEnv: { ...KUBE, WARM_SESSIONS: '2', WARM_SESSION_TYPES: 'echo', SESSION_START_TIMEOUT: '30' },
  sessionManagerEnvAtStart: () => ({ KUBECONFIG: kubeconfig }),
});
const { url: GW, api, signIn } = stack;
const redis = createRedis(stack.redisUrl(), { name: 'e2e-kubewarm' });
const routes = new RedisRouteTable(redis);
let store: Store;

beforeAll(async () => {
  store = await openStore(stack.env().MONGO_URI ?? '');
});
afterAll(async () => {
  await removeInstance(stack.instance);
  await store.close();
  await closeRedis(redis);
});

// The session labels a label value cannot hold (the owner) or that nothing selects by are the pod's annotations.
const PodSchema = z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()) }) });

function preparedFor(owner: string): Promise<SessionRecord> {
  return waitFor(`a session prepared for ${owner}`, async () => (await store.sessions.listWarm(owner, ['ready']))[0], 90_000, 250);
}

// Users of the other Kubernetes specs: each owner's home is a claim on one of the test cluster's eight pre-made
// volumes (tools/kube/test-storage.yaml), and a new owner would take one more.
it("prepares a pod at sign-in that nobody reaches, and the owner's launch takes it ready", async () => {
  const ann = await signIn('ann');
  const prepared = await preparedFor('ann');
  const pod = await admin.get(`/api/v1/namespaces/${NAMESPACE}/pods/visp-session-echo-${prepared.sid}`, PodSchema);
  expect({ ...pod.metadata.labels, ...pod.metadata.annotations }).toMatchObject({ [LABEL.sessionId]: prepared.sid, [LABEL.warm]: 'true', [LABEL.owner]: 'ann' });
  expect(await routes.get(prepared.sid)).toBeUndefined();
  expect((await fetch(`${GW}/s/${prepared.sid}/cgi-bin/env`, { headers: ann })).status).toBe(404);
  expect(await (await api('/api/v1/sessions', ann)).json()).toEqual({ sessions: [] });

  const res = await api('/api/v1/sessions', ann, { method: 'POST', body: { type: 'echo' } });
  expect(res.status).toBe(202);
  const session = (await res.json()) as SessionView;
  expect(session).toMatchObject({ sid: prepared.sid, state: 'ready' });
  const page = await fetch(`${GW}/s/${session.sid}/cgi-bin/env`, { headers: ann });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('VISP_USER=ann');
  // Another user gets nothing of it.
  const cy = await signIn('cy');
  expect((await fetch(`${GW}/s/${session.sid}/cgi-bin/env`, { headers: cy })).status).toBe(404);
  expect(await (await api(`/api/v1/sessions/${session.sid}`, ann, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 150_000);

it("stops a pod prepared before the session-manager restarted at its owner's launch, which starts anew: its token cannot be read back", async () => {
  const cy = await signIn('cy');
  const prepared = await preparedFor('cy');
  const manager = stack.sessionManager();
  manager.child.kill('SIGTERM');
  await manager.exited;
  await stack.startSessionManager();

  // The restarted session-manager never knew this pod's token, and may not read its Secret (deploy/kubernetes/rbac.yaml).
  const res = await api('/api/v1/sessions', cy, { method: 'POST', body: { type: 'echo' } });
  expect(res.status).toBe(202);
  const session = (await res.json()) as SessionView;
  expect(session.sid).not.toBe(prepared.sid);
  // Before, it stayed prepared, was tried again at every launch and kept cy from a new one until culled unused.
  const over = await waitFor('the prepared pod to be stopped', async () => {
    const record = await store.sessions.getAnyOwner(prepared.sid);
    return record && FINAL_SESSION_STATES.includes(record.state) ? record : undefined;
  }, 30_000, 250);
  expect(over).toMatchObject({ state: 'stopped', reason: 'prepared, but its workload could not be reached' });
  expect(await (await api(`/api/v1/sessions/${session.sid}`, cy, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 150_000);
