// SessionLeases against real Redis. Each SessionLeases has a connection of its own and stands for one process
// (a session-manager, recovery). The lease's TTL is fixed at 30 s in leases.ts, so expiry is brought forward by
// shortening the key's TTL in Redis, which is what 30 s without renewal would do; renewal runs on faked intervals.
import { closeRedis, createRedis, type Redis } from '@visp/bus';
import { randomSuffix, testRedisUrl, waitFor } from '@visp/testing';
import { SessionLeases } from './index';

const opened: Redis[] = [];
const connect = (name: string) => {
  const redis = createRedis(testRedisUrl(), { name });
  opened.push(redis);
  return redis;
};
const admin = connect('leases-admin');
/** One process's leases, and its connection (a PING on it answers after every command it sent before). */
const processWith = (name: string) => {
  const redis = connect(name);
  return { leases: new SessionLeases(redis), redis };
};

const used: string[] = [];
const newSid = () => {
  const sid = randomSuffix(6);
  used.push(sid);
  return sid;
};
/** Where leases.ts documents the lease: `visp:lock:session:<sid>`. */
const key = (sid: string) => `visp:lock:session:${sid}`;
/** Ends the lease's TTL now, as if its holder had died 30 s ago. */
const expire = async (sid: string) => {
  await admin.pexpire(key(sid), 1);
  await waitFor(`${key(sid)} to expire`, async () => (await admin.exists(key(sid))) === 0, 2_000, 5);
};

afterEach(() => {
  jest.useRealTimers();
});
afterAll(async () => {
  if (used.length) await admin.del(...used.flatMap((sid) => [key(sid), `${key(sid)}:fence`]));
  await Promise.all(opened.map(closeRedis));
});

it('is held by one process at a time, under visp:lock:session:<sid>, for 30 s', async () => {
  const [a, b] = [processWith('leases-a'), processWith('leases-b')];
  const sid = newSid();
  const won = await Promise.all([a.leases.acquire(sid), b.leases.acquire(sid)]);
  expect(won.filter(Boolean)).toHaveLength(1);
  const [holder, other] = won[0] ? [a, b] : [b, a];
  expect(await other.leases.acquire(sid)).toBe(false);
  const ttl = await admin.pttl(key(sid));
  expect(ttl).toBeGreaterThan(25_000);
  expect(ttl).toBeLessThanOrEqual(30_000);
  // Another session's lease is another lease.
  expect(await other.leases.acquire(newSid())).toBe(true);
  // Either process, and any other, sees that it is held.
  expect([await holder.leases.heldAnywhere(sid), await other.leases.heldAnywhere(sid)]).toEqual([true, true]);

  await holder.leases.release(sid);
  expect(await admin.exists(key(sid))).toBe(0);
  expect(await other.leases.heldAnywhere(sid)).toBe(false);
  expect(await other.leases.acquire(sid)).toBe(true);
});

it('is shared within one process and given back to Redis only when its last holder releases it', async () => {
  const [a, b] = [processWith('leases-a'), processWith('leases-b')];
  const sid = newSid();
  expect(await a.leases.acquire(sid)).toBe(true);
  expect(await a.leases.acquire(sid)).toBe(true);

  await a.leases.release(sid);
  expect(await admin.exists(key(sid))).toBe(1);
  expect(await b.leases.acquire(sid)).toBe(false);

  await a.leases.release(sid);
  expect(await admin.exists(key(sid))).toBe(0);
  expect(await b.leases.acquire(sid)).toBe(true);
  // A release with no hold left does nothing: b's lease stays.
  await a.leases.release(sid);
  expect(await admin.exists(key(sid))).toBe(1);
});

it('is released only by its holder: another process releasing it changes nothing', async () => {
  const [a, b] = [processWith('leases-a'), processWith('leases-b')];
  const sid = newSid();
  expect(await a.leases.acquire(sid)).toBe(true);
  const token = await admin.get(key(sid));

  await b.leases.release(sid);
  expect(await admin.get(key(sid))).toBe(token);
  expect(await b.leases.acquire(sid)).toBe(false);

  await a.leases.release(sid);
  expect(await admin.exists(key(sid))).toBe(0);
});

it('expires after its TTL when its holder no longer renews it; another process may then take it, and the old holder cannot release it', async () => {
  const [a, b, c] = [processWith('leases-a'), processWith('leases-b'), processWith('leases-c')];
  const sid = newSid();
  expect(await a.leases.acquire(sid)).toBe(true);
  expect(await b.leases.acquire(sid)).toBe(false);

  await expire(sid);
  expect(await b.leases.acquire(sid)).toBe(true);
  const token = await admin.get(key(sid));

  // a still believes it holds the lease; its release must not take b's.
  await a.leases.release(sid);
  expect(await admin.get(key(sid))).toBe(token);
  expect(await c.leases.acquire(sid)).toBe(false);

  await b.leases.release(sid);
  expect(await c.leases.acquire(sid)).toBe(true);
});

it('is renewed to 30 s every 10 s by its holder alone, while any holder in the process still holds it, and not after', async () => {
  jest.useFakeTimers({ doNotFake: ['Date', 'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout'] });
  const [a, b] = [processWith('leases-a'), processWith('leases-b')];
  const sid = newSid();
  expect(await a.leases.acquire(sid)).toBe(true);
  expect(await a.leases.acquire(sid)).toBe(true);
  await a.leases.release(sid);

  // Time 10 s: a still holds it once, so its renewal puts the TTL back to 30 s.
  await admin.pexpire(key(sid), 5_000);
  jest.advanceTimersByTime(9_999);
  await a.redis.ping();
  expect(await admin.pttl(key(sid))).toBeLessThanOrEqual(5_000);
  jest.advanceTimersByTime(1);
  await a.redis.ping();
  expect(await admin.pttl(key(sid))).toBeGreaterThan(25_000);

  // Time 15 s: a's lease has expired behind its back and b takes it (b's first renewal is due at 25 s).
  await expire(sid);
  jest.advanceTimersByTime(5_000);
  expect(await b.leases.acquire(sid)).toBe(true);
  await admin.pexpire(key(sid), 3_000);
  // Time 20 s: a's renewal is due and must not extend b's lease.
  jest.advanceTimersByTime(5_000);
  await a.redis.ping();
  expect(await admin.pttl(key(sid))).toBeLessThanOrEqual(3_000);

  // Released everywhere: no renewal is left running.
  await a.leases.release(sid);
  await b.leases.release(sid);
  expect(jest.getTimerCount()).toBe(0);
});

describe('with', () => {
  it('runs the work under the lease and gives the lease back afterwards, also when the work fails', async () => {
    const [a, b] = [processWith('leases-a'), processWith('leases-b')];
    const sid = newSid();
    const result = await a.leases.with(sid, async () => ({ othersGotIt: await b.leases.acquire(sid), held: await admin.exists(key(sid)) }));
    expect(result).toEqual({ othersGotIt: false, held: 1 });
    expect(await admin.exists(key(sid))).toBe(0);

    await expect(a.leases.with(sid, () => Promise.reject(new Error('work failed')))).rejects.toThrow('work failed');
    expect(await admin.exists(key(sid))).toBe(0);
    expect(await b.leases.acquire(sid)).toBe(true);
  });

  it('does not run the work, and returns undefined, while another process holds the lease', async () => {
    const [a, b] = [processWith('leases-a'), processWith('leases-b')];
    const sid = newSid();
    expect(await b.leases.acquire(sid)).toBe(true);
    const work = jest.fn(async () => 'ran');
    expect(await a.leases.with(sid, work)).toBeUndefined();
    expect(work).not.toHaveBeenCalled();

    await b.leases.release(sid);
    expect(await a.leases.with(sid, work)).toBe('ran');
  });

  it('joins a hold the process already has, and leaves it held afterwards (a stop during a start)', async () => {
    const [a, b] = [processWith('leases-a'), processWith('leases-b')];
    const sid = newSid();
    expect(await a.leases.acquire(sid)).toBe(true);
    expect(await a.leases.with(sid, async () => 'stopped')).toBe('stopped');
    expect(await admin.exists(key(sid))).toBe(1);
    expect(await b.leases.acquire(sid)).toBe(false);

    await a.leases.release(sid);
    expect(await admin.exists(key(sid))).toBe(0);
  });
});
