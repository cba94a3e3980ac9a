// The warm pool through the gateway, as a user meets it: signing in prepares a session nobody can reach, the
// user's launch takes it ready, and recovery rebuilds a prepared session as prepared after a crash.
import { closeRedis, createRedis, RedisRouteTable } from '@visp/bus';
import type { SessionView } from '@visp/contracts';
import { openStore, type SessionRecord, type Store } from '@visp/store';
import { waitFor } from '@visp/testing';
import { useGatewayStack } from './gateway-stack';
import { launch, untilReady, type Launched } from './launch';

const RECOVERY_PORT = 17730;
const stack = useGatewayStack({ sessionManager: 17720, gateway: 17780 }, 'warm', { ADMIN_USERS: 'root' }, { sessionManagerEnv: { WARM_SESSIONS: '4', WARM_SESSION_TYPES: 'echo' } });
const { url: GW, api, signIn } = stack;
const redis = createRedis(stack.redisUrl(), { name: 'e2e-warm' });
const routes = new RedisRouteTable(redis);
let store: Store;

beforeAll(async () => {
  store = await openStore(stack.env().MONGO_URI ?? '');
});
afterAll(async () => {
  await store.close();
  await closeRedis(redis);
});

/** The owner's prepared session once it is ready (their own API does not show it). */
function preparedFor(owner: string): Promise<SessionRecord> {
  return waitFor(`a session prepared for ${owner}`, async () => (await store.sessions.listWarm(owner, ['ready']))[0], 60_000);
}

it("prepares a session when the user signs in, out of everyone's reach, and the user's launch gets it ready at once", async () => {
  const wes = await signIn('wes');
  const prepared = await preparedFor('wes');
  expect(prepared).toMatchObject({ type: 'echo', warm: true, state: 'ready' });
  // Nobody reaches it, its owner included: no route yet.
  expect((await fetch(`${GW}/s/${prepared.sid}/cgi-bin/env`, { headers: wes })).status).toBe(404);
  expect(await (await api('/api/v1/sessions', wes)).json()).toEqual({ sessions: [] });

  const res = await api('/api/v1/sessions', wes, { method: 'POST', body: { type: 'echo' } });
  expect(res.status).toBe(202);
  const session = (await res.json()) as SessionView;
  expect(session).toMatchObject({ sid: prepared.sid, state: 'ready' });
  const page = await fetch(`${GW}/s/${session.sid}/cgi-bin/env`, { headers: wes });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain(`VISP_USER=wes`);
  // Another user's sign-in prepares theirs; the launched session stays its owner's alone.
  const vic = await signIn('vic');
  expect((await fetch(`${GW}/s/${session.sid}/cgi-bin/env`, { headers: vic })).status).toBe(404);
  // Opening the start page again prepares the next one.
  expect((await api('/api/v1/session-types', wes)).status).toBe(200);
  const next = await preparedFor('wes');
  expect(next.sid).not.toBe(session.sid);
  expect(await (await api(`/api/v1/sessions/${session.sid}`, wes, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
});

it('is rebuilt by recovery from its labels as prepared, with no route, after a crash that took its record', async () => {
  await signIn('rae');
  const prepared = await preparedFor('rae');
  const manager = stack.sessionManager();
  manager.child.kill('SIGKILL');
  await manager.exited;
  await store.connection.collection<{ _id: string }>('sessions').deleteMany({ _id: prepared.sid });

  const recovery: Launched = launch('recovery', { ...stack.env(), PORT: String(RECOVERY_PORT), RECOVERY_INTERVAL: '1' });
  try {
    await untilReady(recovery, RECOVERY_PORT, 20_000);
    const rebuilt = await waitFor('the prepared session rebuilt', () => store.sessions.getAnyOwner(prepared.sid), 30_000);
    expect(rebuilt).toMatchObject({ owner: 'rae', type: 'echo', state: 'ready', warm: true, adoptedAt: expect.any(Date) });
    expect(await routes.get(prepared.sid)).toBeUndefined();
  } finally {
    recovery.child.kill('SIGTERM');
    await recovery.exited;
  }

  // The session-manager back: the rebuilt session is rae's next launch, and works.
  await stack.startSessionManager();
  const rae = await signIn('rae');
  const session = (await (await api('/api/v1/sessions', rae, { method: 'POST', body: { type: 'echo' } })).json()) as SessionView;
  expect(session).toMatchObject({ sid: prepared.sid, state: 'ready' });
  expect((await fetch(`${GW}/s/${session.sid}/cgi-bin/env`, { headers: rae })).status).toBe(200);
  expect(await (await api(`/api/v1/sessions/${session.sid}`, rae, { method: 'DELETE' })).json()).toMatchObject({ state: 'stopped' });
}, 120_000);
