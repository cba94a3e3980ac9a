// The warm pool against real Podman, Redis and database: sessions prepared for a user before they ask, private
// to them, unseen and unreachable until their launch takes one, and never in anyone's way.
import { closeRedis, createRedis, EventBus } from '@visp/bus';
import { FINAL_SESSION_STATES, isSessionEvent, LABEL, LIVE_SESSION_STATES, type BusEvent, type PrepareSessionsView, type SessionView } from '@visp/contracts';
import { testRedisUrl, waitFor } from '@visp/testing';
import type { SessionRecord } from '@visp/store';
import { requestSession, startHarness, waitForState, type Harness } from '../testing/harness';

async function listen(): Promise<{ about(sid: string): BusEvent[]; close(): Promise<void> }> {
  const redis = createRedis(testRedisUrl(), { name: 'listener' });
  const bus = new EventBus(redis);
  const seen: BusEvent[] = [];
  await bus.subscribe((e) => seen.push(e));
  return { about: (sid) => seen.filter((e) => isSessionEvent(e) && e.sid === sid), close: async () => (await bus.close(), await closeRedis(redis)) };
}

async function prepare(h: Harness, owner: string): Promise<PrepareSessionsView['preparing']> {
  const res = await h.api('POST', '/api/v1/sessions/prepare', { owner });
  expect(res.status).toBe(202);
  return ((await res.json()) as PrepareSessionsView).preparing;
}

/** Waits until a prepared session is ready (its record: its owner's API does not show it). */
function prepared(h: Harness, sid: string): Promise<SessionRecord> {
  return waitFor(
    `prepared session ${sid} to be ready`,
    async () => {
      const record = await h.store.sessions.getAnyOwner(sid);
      if (record && FINAL_SESSION_STATES.includes(record.state)) throw new Error(`prepared session ${sid} ended ${record.state}: ${record.reason}`);
      return record?.state === 'ready' ? record : undefined;
    },
    60_000,
  );
}

async function stopAll(h: Harness): Promise<void> {
  const { sessions } = (await (await h.api('GET', '/api/v1/sessions')).json()) as { sessions: SessionView[] };
  await Promise.all(sessions.filter((s) => LIVE_SESSION_STATES.includes(s.state)).map((s) => h.api('DELETE', `/api/v1/sessions/${s.sid}`)));
}

describe('the warm pool', () => {
  let h: Harness;
  let events: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    h = await startHarness({ WARM_SESSIONS: 3, WARM_SESSION_TYPES: ['box'], MAX_SESSIONS_TOTAL: 10, MAX_SESSIONS_PER_USER: 2 });
    events = await listen();
  });
  afterAll(async () => {
    await stopAll(h);
    await events.close();
    await h.close();
  });

  it("prepares a session nobody can see or reach, which its owner's launch takes ready, token and route set then", async () => {
    const [first, ...more] = await prepare(h, 'wendy');
    expect(first).toEqual({ sid: expect.any(String), type: 'box' });
    expect(more).toEqual([]);
    // One of each type per owner, counting one still starting.
    expect(await prepare(h, 'wendy')).toEqual([]);
    const sid = first!.sid;
    expect(await prepared(h, sid)).toMatchObject({ owner: 'wendy', type: 'box', warm: true });

    const [name] = await h.containersOf(sid);
    const details = await h.podman.inspectContainer(name!);
    expect(details.labels[LABEL.warm]).toBe('true');
    // Unreachable: no route to it; unseen: not in its owner's list, not theirs to read or stop, nothing announced.
    expect(await h.routes.get(sid)).toBeUndefined();
    expect(await (await h.api('GET', '/api/v1/sessions?owner=wendy')).json()).toEqual({ sessions: [] });
    expect((await h.api('GET', `/api/v1/sessions/${sid}?owner=wendy`)).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/sessions/${sid}?owner=wendy`)).status).toBe(404);
    expect(events.about(sid)).toEqual([]);
    // Administrators see it for what it is; it holds capacity, preemptibly.
    const { sessions: all } = (await (await h.api('GET', '/api/v1/sessions')).json()) as { sessions: SessionView[] };
    expect(all.find((s) => s.sid === sid)).toMatchObject({ state: 'ready', warm: true });
    expect(await (await h.api('GET', '/api/v1/capacity')).json()).toMatchObject({ holding: 1, warm: 1 });

    const launched = await requestSession(h, 'wendy', 'box');
    expect(launched).toMatchObject({ sid, state: 'ready', owner: 'wendy' });
    expect(launched.warm).toBeUndefined();
    // Stored starting (it had its capacity at once), ready when prepared, and again, with its reason, when launched.
    expect(launched.history[0]?.state).toBe('starting');
    expect(launched.history.slice(-2)).toEqual([
      { state: 'ready', at: expect.any(String) },
      { state: 'ready', at: expect.any(String), reason: 'launched from a session prepared ahead' },
    ]);
    const route = await h.routes.get(sid);
    expect(route).toMatchObject({ owner: 'wendy', token: details.env.VISP_SESSION_TOKEN });
    // Through its guard, as the gateway reaches it: with the token only.
    expect((await fetch(route!.target, { headers: { authorization: `token ${route!.token}` } })).status).toBe(200);
    expect((await fetch(route!.target)).status).toBe(403);
    expect(events.about(sid)).toEqual([
      expect.objectContaining({ type: 'session.progress', step: 'ready' }),
      expect.objectContaining({ type: 'session.state', state: 'ready' }),
    ]);
    expect(await (await h.api('GET', '/api/v1/sessions?owner=wendy')).json()).toMatchObject({ sessions: [{ sid, state: 'ready' }] });
    expect(await (await h.api('GET', '/api/v1/capacity')).json()).toMatchObject({ holding: 1, warm: 0 });
    // Launched, it is the owner's for good: neither the culler nor a stop meant for prepared sessions ends it.
    expect(await h.manager.sessions.pool.retire(sid, 'prepared, not launched')).toBe(false);
    expect(await h.manager.sessions.stop(sid, { reason: 'prepared, not launched', onlyWarm: true })).toMatchObject({ state: 'ready' });
    expect(await h.containersOf(sid)).toHaveLength(1);
  });

  it("is taken only by its owner's launch of its type with the type's default limits and no project", async () => {
    const [ready] = await prepare(h, 'xavier');
    await prepared(h, ready!.sid);
    const others = [
      await requestSession(h, 'yolanda', 'box'),
      await requestSession(h, 'xavier', 'box', { limits: { memoryMiB: 128 } }),
      await requestSession(h, 'xavier', 'box', { project: 'p1' }),
    ];
    for (const other of others) {
      expect(other.state).toBe('starting');
      expect(other.sid).not.toBe(ready!.sid);
      await waitForState(h, other.sid, 'ready');
    }
    expect(await h.store.sessions.getAnyOwner(ready!.sid)).toMatchObject({ state: 'ready', warm: true });
    // At their limit (2), a user gets nothing prepared: a launch could not take it.
    const second = await requestSession(h, 'yolanda', 'box');
    await waitForState(h, second.sid, 'ready');
    expect(await prepare(h, 'yolanda')).toEqual([]);
  });

  it('stops a prepared session nobody launched once WARM_UNUSED_TIMEOUT passes, unannounced, and no launched one', async () => {
    const [unused] = await prepare(h, 'uma');
    await prepared(h, unused!.sid);
    const launched = await requestSession(h, 'vera', 'box');
    await waitForState(h, launched.sid, 'ready');

    await h.manager.culler.pass(Date.now() + 601_000);
    expect(await h.store.sessions.getAnyOwner(unused!.sid)).toMatchObject({ state: 'stopped', reason: 'prepared, not launched within 10 min' });
    expect(await h.containersOf(unused!.sid)).toEqual([]);
    expect(events.about(unused!.sid)).toEqual([]);
    // Culling by idleness and age is off here: the pool's timeout is the pool's alone.
    expect(await h.store.sessions.getAnyOwner(launched.sid)).toMatchObject({ state: 'ready' });
  });
});

describe('the warm pool at full capacity', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ WARM_SESSIONS: 1, WARM_SESSION_TYPES: ['box'], MAX_SESSIONS_TOTAL: 1 });
  });
  afterAll(async () => {
    await stopAll(h);
    await h.close();
  });

  it('gives its place to a launch that would otherwise wait', async () => {
    const [warm] = await prepare(h, 'zoe');
    await prepared(h, warm!.sid);
    expect(await (await h.api('GET', '/api/v1/capacity')).json()).toMatchObject({ capacity: 1, holding: 1, warm: 1 });

    const launch = await requestSession(h, 'quinn', 'box');
    await waitForState(h, launch.sid, 'ready');
    expect(await h.store.sessions.getAnyOwner(warm!.sid)).toMatchObject({ state: 'stopped', reason: 'prepared, and its place was needed for a launch' });
    expect(await h.containersOf(warm!.sid)).toEqual([]);
    // No room now: nothing is prepared, and nobody waits for it.
    expect(await prepare(h, 'zoe')).toEqual([]);
    expect(await (await h.api('GET', '/api/v1/capacity')).json()).toMatchObject({ holding: 1, waiting: 0, warm: 0 });
  });
});

it('prepares nothing unless WARM_SESSIONS is set', async () => {
  const h = await startHarness();
  try {
    expect(await prepare(h, 'wendy')).toEqual([]);
    expect(await h.store.sessions.listAnyOwner({ instance: h.instance })).toEqual([]);
  } finally {
    await h.close();
  }
});
