// The host's capacity (MAX_SESSIONS_TOTAL) against what recovery does to sessions without the session-manager: a
// container that dies (an app crash, an OOM kill) is ended in the store alone, and its slot must not stay counted;
// a container that outlived its session's end is revived, and must be counted.
import type { SessionStreamMessage, SessionView } from '@visp/contracts';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { openStore, type Store } from '@visp/store';
import { readSse, testPodmanHost, waitFor } from '@visp/testing';
import { useGatewayStack } from './gateway-stack';
import { launch, TEST_SECRETS, untilReady, type Launched } from './launch';
import { crashSession } from './session-crash';

const RECOVERY_PORT = 17830;
const SESSION_MANAGER_PORT = 17820;
const stack = useGatewayStack({ sessionManager: SESSION_MANAGER_PORT, gateway: 17880 }, 'capacity', {}, { sessionManagerEnv: { MAX_SESSIONS_TOTAL: '1' } });
const { api, signIn, launchSession } = stack;
const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));
let store: Store;
let recovery: Launched | undefined;

beforeAll(async () => {
  store = await openStore(stack.env().MONGO_URI ?? '');
  // Podman's events tell it at once when a container dies; the periodic pass is not what this is about.
  recovery = launch('recovery', { ...stack.env(), PORT: String(RECOVERY_PORT), RECOVERY_INTERVAL: '3600' });
  await untilReady(recovery, RECOVERY_PORT, 20_000);
});
afterAll(async () => {
  recovery?.child.kill('SIGTERM');
  await recovery?.exited;
  await store.close();
});

it('frees the slot of a session whose container died, so the next launch starts instead of waiting for ever', async () => {
  const ida = await signIn('ida');
  const joe = await signIn('joe');
  const { session: crashed } = await launchSession(ida, 'echo');
  const over = await crashSession(podman, store, stack.instance, crashed.sid);
  expect(over.reason).toBe('its container exited');

  // The only slot was the dead session's: the launch goes into the line, which has the slots checked at once
  // (before, it waited there until the session-manager restarted).
  const { session, stream } = await launchSession(joe, 'echo');
  expect(session.state).toBe('pending');
  expect(stream.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });
  expect(await (await api(`/api/v1/sessions/${session.sid}`, joe, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 90_000);

it('counts a session recovery revived while it ran, so that no more sessions start than the capacity allows', async () => {
  const [kim, lou, mia] = [await signIn('kim'), await signIn('lou'), await signIn('mia')];
  const { session: outlived } = await launchSession(kim, 'echo');
  // Its stop was stored, and its container's removal failed (the state a Podman error mid-stop leaves): the
  // container still runs. The next launch has the slots checked (or they were already) and gets this one's.
  await store.sessions.transition(outlived.sid, ['ready'], 'stopping');
  await store.sessions.transition(outlived.sid, ['stopping'], 'stopped', { reason: 'stopped by its owner' });
  const { session: counted } = await launchSession(lou, 'echo');

  // Recovery finds the running container of a stopped session and revives it: two sessions run now.
  const pass = await fetch(`http://127.0.0.1:${RECOVERY_PORT}/admin/reconcile`, { method: 'POST', headers: { 'x-service-token': TEST_SECRETS.SERVICE_TOKEN } });
  expect(pass.status).toBe(200);
  expect(await store.sessions.getAnyOwner(outlived.sid)).toMatchObject({ state: 'ready', adoptedAt: expect.any(Date) });
  // The session-manager counts it (it looks every 10 s); before, it held one slot, for the other session.
  const capacity = () => fetch(`http://127.0.0.1:${SESSION_MANAGER_PORT}/api/v1/capacity`, { headers: { 'x-service-token': TEST_SECRETS.SERVICE_TOKEN } }).then((res) => res.json() as Promise<{ holding: number }>);
  await waitFor('the session-manager to count the revived session', async () => (await capacity()).holding === 2 || undefined, 25_000, 250);

  // So the next launch waits in line, and starts once both have stopped (one stop leaves it still over capacity).
  const res = await api('/api/v1/sessions', mia, { method: 'POST', body: { type: 'echo' } });
  expect(res.status).toBe(202);
  const waiting = (await res.json()) as SessionView;
  expect(waiting.state).toBe('pending');
  expect((await api(`/api/v1/sessions/${counted.sid}`, lou, { method: 'DELETE' })).status).toBe(200);
  expect(await (await api(`/api/v1/sessions/${waiting.sid}`, mia)).json()).toMatchObject({ state: 'pending' });
  expect((await api(`/api/v1/sessions/${outlived.sid}`, kim, { method: 'DELETE' })).status).toBe(200);
  const stream = await readSse<SessionStreamMessage>(`${stack.url}/api/v1/sessions/${waiting.sid}/events`, mia, (m) => m.kind === 'state' && ['ready', 'failed'].includes(m.state));
  expect(stream.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });
  expect((await api(`/api/v1/sessions/${waiting.sid}`, mia, { method: 'DELETE' })).status).toBe(200);
}, 120_000);
