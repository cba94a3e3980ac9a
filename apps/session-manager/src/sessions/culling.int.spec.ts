import { ActivityLog, closeRedis, createRedis, EventBus } from '@visp/bus';
import { isSessionEvent, type BusEvent } from '@visp/contracts';
import { openKernel, sendExecuteRequest, startKernel, testRedisUrl, waitFor } from '@visp/testing';
import { getSession, readEvents, requestSession, startHarness, waitForState, type Harness } from '../testing/harness';

const IDLE_TIMEOUT = 10;
const CULL_INTERVAL = 1;

async function listen(): Promise<{ seen: BusEvent[]; close(): Promise<void> }> {
  const redis = createRedis(testRedisUrl(), { name: 'listener' });
  const bus = new EventBus(redis);
  const seen: BusEvent[] = [];
  await bus.subscribe((e) => seen.push(e));
  return { seen, close: async () => (await bus.close(), await closeRedis(redis)) };
}

/** Starts a kernel in the session and sets it computing for ten minutes; hangs up once it is busy. */
async function startLongComputation(h: Harness, sid: string): Promise<void> {
  const route = (await h.routes.get(sid))!;
  const base = `${route.target}/s/${sid}/`;
  const kernel = await startKernel(base, route.token);
  const ws = await openKernel(`${base.replace('http', 'ws')}api/kernels/${kernel}/channels`, { authorization: `token ${route.token}` });
  // Status messages the kernel broadcasts for each request, by request id.
  const busy = new Set<string>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { msg_type?: string; parent_header?: { msg_id?: string }; content?: { execution_state?: string } };
    if (msg.msg_type === 'status' && msg.content?.execution_state === 'busy' && msg.parent_header?.msg_id) busy.add(msg.parent_header.msg_id);
  });
  // Jupyter learns a kernel's state from the kernel's broadcasts, on a subscription of its own that connects after
  // the kernel starts; a computation started before that is never seen as busy (ZeroMQ's slow joiner). The test
  // is about a computation Jupyter knows of, so it waits until Jupyter has heard from the kernel.
  const state = async () => {
    const res = await fetch(`${base}api/kernels/${kernel}?no_track_activity=1`, { headers: { authorization: `token ${route.token}` } }).catch(() => undefined);
    return ((await res?.json().catch(() => undefined)) as { execution_state?: string } | undefined)?.execution_state;
  };
  // If its subscription missed the kernel's words, only new ones tell it: a no-op each second until it hears.
  const heardIdle = async () => {
    let nudged = 0;
    await waitFor('Jupyter to see the kernel idle', async () => {
      if ((await state()) === 'idle') return true;
      if (Date.now() - nudged > 1000) {
        nudged = Date.now();
        sendExecuteRequest(ws, 'pass');
      }
      return false;
    }, 30_000);
  };
  // The user is at work until Jupyter knows the computation runs; from then on only Jupyter's word keeps it.
  const activity = new ActivityLog(h.redis);
  const working = setInterval(() => void activity.touch(sid), 500);
  try {
    // Rarely, under load, Jupyter misses the broadcast that the computation began and keeps saying idle: then
    // the computation is interrupted and started again, at most three times.
    for (let attempt = 1; ; attempt++) {
      await heardIdle();
      const msgId = sendExecuteRequest(ws, 'import time; time.sleep(600)');
      await waitFor('the kernel to compute', () => busy.has(msgId), 30_000);
      const seen = await waitFor('Jupyter to see the kernel busy', async () => (await state()) === 'busy', 5000).catch(() => false);
      if (seen) break;
      if (attempt === 3) throw new Error('Jupyter never saw the kernel busy');
      await fetch(`${base}api/kernels/${kernel}/interrupt`, { method: 'POST', headers: { authorization: `token ${route.token}` } });
    }
  } finally {
    clearInterval(working);
    ws.close();
  }
}

describe('idle culling', () => {
  let h: Harness;
  let events: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    h = await startHarness({ IDLE_TIMEOUT, CULL_INTERVAL, CULL_WARNING: 3 });
    events = await listen();
  });
  afterAll(async () => {
    await events.close();
    await h.close();
  });

  it('stops an idle session after a warning, and keeps one whose kernel computes and one in use through the proxy', async () => {
    const [idle, busy, typing] = await Promise.all([requestSession(h, 'ivan', 'jupyter'), requestSession(h, 'bea', 'jupyter'), requestSession(h, 'tom', 'box')]);
    // tom works through the gateway from the start, which records his traffic.
    const activity = new ActivityLog(h.redis);
    const typingAway = setInterval(() => void activity.touch(typing.sid), 500);
    // bea's kernel computes for longer than the idle timeout, with nobody watching.
    const computing = waitForState(h, busy.sid, 'ready', 120_000).then(() => startLongComputation(h, busy.sid));
    // ivan's page stays open: it polls Jupyter's API, which Jupyter itself counts as activity. We must not.
    let pagePolling: NodeJS.Timeout | undefined;
    const polling = waitForState(h, idle.sid, 'ready', 120_000).then(async () => {
      const route = (await h.routes.get(idle.sid))!;
      pagePolling = setInterval(() => {
        for (const api of ['api/status', 'api/kernels', 'api/contents', 'api/sessions']) {
          void fetch(`${route.target}/s/${idle.sid}/${api}`, { headers: { authorization: `token ${route.token}` } }).then((r) => r.body?.cancel(), () => undefined);
        }
      }, 500);
    });
    try {
      await Promise.all([computing, polling, waitForState(h, typing.sid, 'ready', 120_000)]);
      const stopped = await waitForState(h, idle.sid, 'stopped', (IDLE_TIMEOUT + 30) * 1000);
      expect(stopped.reason).toBe(`idle for ${IDLE_TIMEOUT} s`);
      const history = (await getSession(h, idle.sid)).history;
      const readyAt = Date.parse(history.find((e) => e.state === 'ready')!.at);
      const stoppingAt = Date.parse(history.find((e) => e.state === 'stopping')!.at);
      // Culled at the first look after the deadline (a look takes at most the probe's timeout).
      expect(stoppingAt - (readyAt + IDLE_TIMEOUT * 1000)).toBeLessThanOrEqual((CULL_INTERVAL + 3) * 1000);
      expect(await h.containersOf(idle.sid)).toEqual([]);

      const warning = events.seen.find((e) => isSessionEvent(e) && e.sid === idle.sid && e.type === 'session.cull-warning');
      expect(warning).toMatchObject({ owner: 'ivan', reason: `idle for ${IDLE_TIMEOUT} s` });
      const stoppedEvent = events.seen.findIndex((e) => isSessionEvent(e) && e.sid === idle.sid && e.type === 'session.state' && e.state === 'stopping');
      expect(events.seen.indexOf(warning!)).toBeLessThan(stoppedEvent);

      // Two more looks: the others are still there, and were never warned.
      await new Promise((r) => setTimeout(r, 2 * CULL_INTERVAL * 1000 + 500));
      for (const kept of [busy, typing]) {
        const { type, state, reason } = await getSession(h, kept.sid);
        const said = state === 'ready' ? [] : h.logs.filter((l) => l.sid === kept.sid).map((l) => `${String(l.msg)} ${JSON.stringify(l.err ?? l.reason ?? '')}${l.app === undefined ? '' : ` app=${String(l.app)}`}`);
        expect({ type, state, reason, said }).toEqual({ type: kept.type, state: 'ready', reason: undefined, said: [] });
        expect(events.seen.filter((e) => isSessionEvent(e) && e.sid === kept.sid && e.type === 'session.cull-warning')).toEqual([]);
      }
    } finally {
      clearInterval(pagePolling);
      clearInterval(typingAway);
    }

    // Once tom stops working, his session goes the same way.
    expect((await waitForState(h, typing.sid, 'stopped', (IDLE_TIMEOUT + 30) * 1000)).reason).toBe(`idle for ${IDLE_TIMEOUT} s`);
    await h.api('DELETE', `/api/v1/sessions/${busy.sid}`);
  }, 240_000);
});

describe('maximum age', () => {
  it('stops a session in use once it reaches the maximum age, after a warning', async () => {
    const h = await startHarness({ MAX_SESSION_AGE: 4, CULL_INTERVAL: 1, CULL_WARNING: 2 });
    const events = await listen();
    const activity = new ActivityLog(h.redis);
    const session = await requestSession(h, 'olga', 'box');
    const typingAway = setInterval(() => void activity.touch(session.sid), 300);
    try {
      const stream = await readEvents(h, session.sid, (m) => m.kind === 'state' && m.state === 'stopped');
      expect(stream.filter((m) => m.kind !== 'progress').map((m) => (m.kind === 'state' ? m.state : m.kind))).toEqual(
        expect.arrayContaining(['ready', 'cull-warning', 'stopping', 'stopped']),
      );
      expect(stream.findIndex((m) => m.kind === 'cull-warning')).toBeLessThan(stream.findIndex((m) => m.kind === 'state' && m.state === 'stopping'));
      expect((await getSession(h, session.sid)).reason).toBe('reached the maximum age of 4 s');
      expect(events.seen.filter((e) => isSessionEvent(e) && e.sid === session.sid && e.type === 'session.cull-warning')).toHaveLength(1);
    } finally {
      clearInterval(typingAway);
      await events.close();
      await h.close();
    }
  });
});
