// The host's capacity (MAX_SESSIONS_TOTAL) against sessions that end without the session-manager: a container
// that dies (an app crash, an OOM kill) is ended by recovery, in the store alone. Its slot must not stay counted.
import { LABEL } from '@visp/contracts';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { openStore, type Store } from '@visp/store';
import { testPodmanHost, waitFor } from '@visp/testing';
import { useGatewayStack } from './gateway-stack';
import { launch, untilReady, type Launched } from './launch';

const RECOVERY_PORT = 17830;
const stack = useGatewayStack({ sessionManager: 17820, gateway: 17880 }, 'capacity', {}, { sessionManagerEnv: { MAX_SESSIONS_TOTAL: '1' } });
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
  const [container] = await podman.listManaged(stack.instance, { [LABEL.sessionId]: crashed.sid });
  await podman.docker.getContainer(container?.id ?? 'none').kill();
  const over = await waitFor('recovery to end the session', async () => {
    const record = await store.sessions.getAnyOwner(crashed.sid);
    return record?.state === 'stopped' ? record : undefined;
  }, 15_000, 100);
  expect(over.reason).toBe('its container exited');

  // The only slot was the dead session's: the launch goes into the line, which has the slots checked at once
  // (before, it waited there until the session-manager restarted).
  const { session, stream } = await launchSession(joe, 'echo');
  expect(session.state).toBe('pending');
  expect(stream.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });
  expect(await (await api(`/api/v1/sessions/${session.sid}`, joe, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 90_000);
