import { closeRedis, createRedis, EventBus } from '@visp/bus';
import { isSessionEvent, type BusEvent } from '@visp/contracts';
import { testRedisUrl, waitFor } from '@visp/testing';
import { getSession, readEvents, requestSession, startHarness, waitForState, type Harness } from '../testing/harness';

describe('parallel starts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  // Serialised starts could never have all ten waiting at once: each waits for the test to open its gate.
  // How long ten take against one is a benchmark's business (tools/bench/spawn), not a test's.
  it('starts 10 sessions at once: all are waiting for their app together, then all become ready', async () => {
    const sessions = await Promise.all(Array.from({ length: 10 }, (_, i) => requestSession(h, `user${i}`, 'gated')));
    const waiting = await waitFor('ten running containers, every session starting', async () => {
      const views = await Promise.all(sessions.map((s) => getSession(h, s.sid)));
      const containers = await h.podman.listManaged(h.instance);
      return views.every((v) => v.state === 'starting') && containers.filter((c) => c.state === 'running').length === 10 ? containers : undefined;
    }, 60_000);
    await Promise.all(waiting.map((c) => h.podman.exec(c.id, ['touch', '/tmp/go'])));
    await Promise.all(sessions.map((s) => waitForState(h, s.sid, 'ready', 90_000)));
    const routed = new Set((await h.routes.all()).map((r) => r.sid));
    expect(sessions.filter((s) => !routed.has(s.sid))).toEqual([]);
    await Promise.all(sessions.map((s) => h.api('DELETE', `/api/v1/sessions/${s.sid}`)));
  }, 180_000);

  it('reports every step of a start on the bus, and over SSE until ready', async () => {
    const redis = createRedis(testRedisUrl(), { name: 'listener' });
    const bus = new EventBus(redis);
    const seen: BusEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    const session = await requestSession(h, 'frank', 'box');

    const messages = await readEvents(h, session.sid, (m) => m.kind === 'state' && m.state === 'ready');
    expect(messages.at(-1)).toMatchObject({ kind: 'state', state: 'ready' });

    const mine = seen.filter((e) => isSessionEvent(e) && e.sid === session.sid);
    const steps = mine.flatMap((e) => (e.type === 'session.progress' ? [e.step] : []));
    const states = mine.flatMap((e) => (e.type === 'session.state' ? [e.state] : []));
    expect(steps).toEqual(['preflight', 'creating', 'starting', 'waiting-ready', 'ready']);
    // With room at once, a session is stored `starting`: `pending` is for one in line (below).
    expect(states).toEqual(['starting', 'ready']);
    expect(mine.every((e) => e.owner === 'frank')).toBe(true);

    await h.api('DELETE', `/api/v1/sessions/${session.sid}`);
    await bus.close();
    await closeRedis(redis);
  });
});

describe('over capacity', () => {
  it('queues requests first come, first served, with their position, instead of refusing them', async () => {
    const h = await startHarness({ MAX_SESSIONS_TOTAL: 1 });
    const redis = createRedis(testRedisUrl(), { name: 'listener' });
    const bus = new EventBus(redis);
    const seen: BusEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    try {
      const first = await requestSession(h, 'gina', 'box');
      await waitForState(h, first.sid, 'ready', 30_000);
      const second = await requestSession(h, 'hank', 'box');
      const queued = await new Promise<BusEvent>((resolve) => {
        const check = setInterval(() => {
          const event = seen.find((e) => isSessionEvent(e) && e.sid === second.sid && e.type === 'session.progress' && e.step === 'queued');
          if (event) resolve((clearInterval(check), event));
        }, 50);
      });
      expect(queued).toMatchObject({ step: 'queued', queuePosition: 1, message: 'waiting for capacity: number 1 in line' });
      expect(second.state).toBe('pending');
      expect(await getSession(h, second.sid)).toMatchObject({ state: 'pending' });

      await h.api('DELETE', `/api/v1/sessions/${first.sid}`);
      await waitForState(h, second.sid, 'ready', 30_000);
      // eslint-disable-next-line visp/contract-literals -- the order a start in line goes through, stated by the test itself
      expect((await getSession(h, second.sid)).history.map((entry) => entry.state)).toEqual(['pending', 'starting', 'ready']);
      await h.api('DELETE', `/api/v1/sessions/${second.sid}`);
    } finally {
      await bus.close();
      await closeRedis(redis);
      await h.close();
    }
  });
});
