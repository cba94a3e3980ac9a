// Culling with SESSION_RUNTIME=kubernetes, on the test cluster (see kube.ts): an idle session is stopped with its
// reason and its pod and Secret go, while one in use stays. A stack of its own: its session-manager culls after
// seconds, which would stop the other Kubernetes spec's sessions between its steps.
import { type SessionView } from '@visp/contracts';
import { waitFor } from '@visp/testing';
import { z } from 'zod';
import { useGatewayStack } from './gateway-stack';
import { kubeconfigAs, kubeTestCluster, removeInstance } from './kube';

const { admin, NAMESPACE, KUBE } = kubeTestCluster;
let kubeconfig = '';
beforeAll(async () => {
  kubeconfig = await kubeconfigAs('visp-session-manager');
});
const stack = useGatewayStack({ sessionManager: 17620, gateway: 17680 }, 'kubecull', {}, {
  sessionManagerEnv: { ...KUBE, IDLE_TIMEOUT: '20', CULL_INTERVAL: '1', CULL_WARNING: '0' },
  sessionManagerEnvAtStart: () => ({ KUBECONFIG: kubeconfig }),
});
afterAll(() => removeInstance(stack.instance));

const exists = (kind: string, name: string) =>
  admin.get(`/api/v1/namespaces/${NAMESPACE}/${kind}/${name}`, z.unknown()).then(
    () => true,
    (err: { status?: number }) => (err.status === 404 ? false : Promise.reject(err)),
  );

it('stops an idle session with its reason, its pod and Secret gone, and keeps one in use', async () => {
  const ida = await stack.signIn('ida');
  const [{ session: idle }, { session: busy }] = await Promise.all([stack.launchSession(ida, 'echo'), stack.launchSession(ida, 'echo')]);
  // The busy one is used through the gateway every second (the gateway records activity at most every 10 s, well
  // within the 20 s allowed); the idle one is not.
  const using = setInterval(() => void stack.api(`/s/${busy.sid}/cgi-bin/env`, ida).catch(() => undefined), 1000);
  try {
    const culled = await waitFor('the idle session to be culled', async () => {
      const view = (await (await stack.api(`/api/v1/sessions/${idle.sid}`, ida)).json()) as SessionView;
      return view.state === 'stopped' ? view : undefined;
    }, 60_000, 500);
    expect(culled.reason).toBe('idle for 20 s');
    expect({ pod: await exists('pods', `visp-session-echo-${idle.sid}`), secret: await exists('secrets', `visp-session-${idle.sid}`) }).toEqual({ pod: false, secret: false });
    expect(((await (await stack.api(`/api/v1/sessions/${busy.sid}`, ida)).json()) as SessionView).state).toBe('ready');
    expect(await exists('pods', `visp-session-echo-${busy.sid}`)).toBe(true);
  } finally {
    clearInterval(using);
  }
  expect(await (await stack.api(`/api/v1/sessions/${busy.sid}`, ida, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 120_000);
