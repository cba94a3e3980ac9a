import { QueueEvents } from 'bullmq';
import type { BusEvent, RouteChange } from '@visp/contracts';
import { memoryLogger, testRedisUrl, waitFor } from '@visp/testing';
import { ActivityLog, BULL_PREFIX, channels, claim, closeRedis, createRedis, createWorker, EventBus, QUEUES, RedisRouteTable, tryAcquireLock, TypedQueue, type Redis } from './index';

const opened: Redis[] = [];
const redis = (name = 'test', maxRetriesPerRequest?: number | null) => {
  const r = createRedis(testRedisUrl(), { name, maxRetriesPerRequest });
  opened.push(r);
  return r;
};
afterAll(async () => {
  await Promise.all(opened.map(closeRedis));
});

const at = () => new Date().toISOString();

describe('EventBus', () => {
  it('delivers published events to subscribers and drops malformed ones', async () => {
    const { logger, lines } = memoryLogger();
    const bus = new EventBus(redis(), logger);
    const received: BusEvent[] = [];
    const unsubscribe = await bus.subscribe((e) => received.push(e));

    const event: BusEvent = { type: 'session.progress', owner: 'alice', sid: 'abcdefghij23', step: 'creating', message: 'creating container', at: at() };
    await redis().publish(channels.events(redis()), '{"type":"session.progress","owner":"../x"}');
    await redis().publish(channels.events(redis()), 'not json');
    await bus.publish(event);
    await waitFor('the event', () => received.length > 0);
    expect(received).toEqual([event]);
    expect(lines.filter((l) => l.msg === 'dropped a malformed event')).toHaveLength(2);

    unsubscribe();
    await bus.publish({ ...event, step: 'ready' });
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(1);
    await bus.close();
  });

  it("hears its own database's events only: Pub/Sub itself ignores the database (two instances on one Redis)", async () => {
    const worker = Number(process.env.JEST_WORKER_ID ?? '1') % 3;
    const elsewhere = createRedis(testRedisUrl((worker + 1) % 3), { name: 'elsewhere' });
    // Closed with the others after the file: left open, it kept Jest from exiting.
    opened.push(elsewhere);
    const [here, there] = [new EventBus(redis()), new EventBus(elsewhere)];
    const received: BusEvent[] = [];
    const unsubscribe = await here.subscribe((e) => received.push(e));
    const event = (owner: string): BusEvent => ({ type: 'session.progress', owner, sid: 'abcdefghij23', step: 'creating', message: 'x', at: at() });
    // Published first on the other database, then here: once this one has arrived, the other would have.
    await there.publish(event('elsewhere'));
    await here.publish(event('here'));
    await waitFor('the event', () => received.length > 0);
    expect(received.map((e) => e.owner)).toEqual(['here']);
    unsubscribe();
    await Promise.all([here.close(), there.close()]);
  });

  it('refuses to publish an invalid event', async () => {
    const bus = new EventBus(redis());
    await expect(bus.publish({ type: 'session.state', owner: 'alice', sid: 'nope', state: 'ready', at: at() } as BusEvent)).rejects.toThrow();
    await bus.close();
  });
});

describe('ActivityLog', () => {
  it('keeps the latest use of each session, whatever order the writes land in', async () => {
    const log = new ActivityLog(redis());
    await log.touch('activityaaa2', 2000);
    await log.touch('activityaaa2', 1000); // a late write from a slower gateway
    await log.touch('activitybbb2', 1500);
    expect(await log.lastSeen(['activityaaa2', 'activitybbb2', 'activityccc2'])).toEqual(
      new Map([
        ['activityaaa2', 2000],
        ['activitybbb2', 1500],
      ]),
    );
    await log.forget('activityaaa2');
    expect(await log.lastSeen(['activityaaa2'])).toEqual(new Map());
    expect(await log.lastSeen([])).toEqual(new Map());
  });
});

describe('RedisRouteTable', () => {
  it('stores routes and announces every change', async () => {
    const table = new RedisRouteTable(redis());
    const changes: RouteChange[] = [];
    const stop = await table.watch((c) => changes.push(c));
    const route = { sid: 'routeaaaaaa2', owner: 'alice', target: 'http://127.0.0.1:45678', token: 't'.repeat(32), stripPrefix: false, updatedAt: at() };

    await table.set(route);
    expect(await table.get('routeaaaaaa2')).toEqual(route);
    expect((await table.all()).map((r) => r.sid)).toContain('routeaaaaaa2');
    expect(await table.delete('routeaaaaaa2')).toBe(true);
    expect(await table.delete('routeaaaaaa2')).toBe(false);
    expect(await table.get('routeaaaaaa2')).toBeUndefined();
    await waitFor('three changes', () => changes.length === 3);
    expect(changes).toEqual([
      { sid: 'routeaaaaaa2', op: 'set' },
      { sid: 'routeaaaaaa2', op: 'delete' },
      { sid: 'routeaaaaaa2', op: 'delete' },
    ]);
    await stop();
  });

  it('skips entries it cannot trust', async () => {
    const r = redis();
    const table = new RedisRouteTable(r);
    await r.hset('visp:routes', 'broken00aaa2', '{"sid":"broken00aaa2","target":"file:///etc"}');
    expect(await table.get('broken00aaa2')).toBeUndefined();
    expect((await table.all()).map((x) => x.sid)).not.toContain('broken00aaa2');
    await r.hdel('visp:routes', 'broken00aaa2');
  });
});

describe('queues', () => {
  it('runs a transcription job through BullMQ, retrying a failed attempt', async () => {
    const queue = new TypedQueue(QUEUES.transcriptions, redis('producer'));
    const events = new QueueEvents(QUEUES.transcriptions, { connection: redis('events', null), prefix: BULL_PREFIX });
    await events.waitUntilReady();
    let attempts = 0;
    const worker = createWorker(
      QUEUES.transcriptions,
      async (job) => {
        attempts++;
        if (attempts === 1) throw new Error('transient');
        return { words: 3, owner: job.data.owner };
      },
      { connection: redis('worker', null), concurrency: 1 },
    );
    const job = await queue.add({ transcriptionId: 'a'.repeat(24), owner: 'alice' }, { backoff: { type: 'fixed', delay: 10 } });
    expect(await job.waitUntilFinished(events, 15_000)).toEqual({ words: 3, owner: 'alice' });
    expect(attempts).toBe(2);
    await worker.close();
    await events.close();
    await queue.queue.obliterate({ force: true });
    await queue.close();
  });

  it('rejects an invalid payload before it is queued, and fails one that got in anyway without retrying', async () => {
    const queue = new TypedQueue(QUEUES.transcriptions, redis('producer'));
    await expect(queue.add({ transcriptionId: '../../etc/passwd', owner: 'alice' })).rejects.toThrow();

    const events = new QueueEvents(QUEUES.transcriptions, { connection: redis('events', null), prefix: BULL_PREFIX });
    await events.waitUntilReady();
    let called = false;
    const worker = createWorker(QUEUES.transcriptions, async () => (called = true), { connection: redis('worker', null) });
    const smuggled = await queue.queue.add(QUEUES.transcriptions, { transcriptionId: 'bad', owner: 'alice' } as never, { attempts: 3 });
    await expect(smuggled.waitUntilFinished(events, 15_000)).rejects.toThrow(/invalid transcriptions payload/);
    expect(called).toBe(false);
    expect((await queue.queue.getJob(smuggled.id!))?.attemptsMade).toBe(1);
    await worker.close();
    await events.close();
    await queue.queue.obliterate({ force: true });
    await queue.close();
  });
});

describe('locks', () => {
  it('keeps a claim alive by extending it, and only its holder can', async () => {
    const key = `visp:test:claim-${Date.now()}`;
    // Timers fire late, never early: each wait below is only ever longer, and every check allows for that.
    const held = await claim(redis(), key, 1000);
    expect(held).toBeDefined();
    await new Promise((r) => setTimeout(r, 600));
    expect(await held!.extend(1000)).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    // Over 1.2 s after the claim of 1 s: alive because it was extended (for 1 s from 0.6 s at the earliest).
    expect(await claim(redis(), key, 1000)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await held!.extend(1000)).toBe(false);
    const next = await claim(redis(), key, 10_000);
    expect(next).toBeDefined();
    expect(await held!.extend(10_000)).toBe(false);
    expect(await held!.release()).toBe(false);
    expect(await next!.release()).toBe(true);
  });

  it('is held by one at a time, with growing fences, and released only by its holder', async () => {
    const name = `leader-${Date.now()}`;
    const a = await tryAcquireLock(redis(), name, 10_000);
    expect(a).toBeDefined();
    expect(await tryAcquireLock(redis(), name, 10_000)).toBeUndefined();
    expect(await a!.extend()).toBe(true);
    expect(await a!.release()).toBe(true);
    expect(await a!.release()).toBe(false);
    const b = await tryAcquireLock(redis(), name, 10_000);
    expect(b!.fence).toBeGreaterThan(a!.fence);
    await b!.release();
  });

  it('expires, and the old holder can then neither extend nor release the new holder\'s lock', async () => {
    const name = `expiring-${Date.now()}`;
    const old = await tryAcquireLock(redis(), name, 100);
    await new Promise((r) => setTimeout(r, 200));
    const next = await tryAcquireLock(redis(), name, 10_000);
    expect(next).toBeDefined();
    expect(await old!.extend()).toBe(false);
    expect(await old!.release()).toBe(false);
    expect(await next!.release()).toBe(true);
  });
});
