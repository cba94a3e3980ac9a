// claim and tryAcquireLock over a stand-in for Redis's SET PX NX and the two compare-the-token scripts (real Redis:
// the locks case of bus.int.spec.ts).
import type { Redis } from './redis';
import { claim, tryAcquireLock } from './locks';

function fakeRedis() {
  const values = new Map<string, string>();
  const redis = {
    set: jest.fn(async (key: string, value: string, _px: 'PX', _ttl: number, _nx: 'NX') => (values.has(key) ? null : (values.set(key, value), 'OK'))),
    incr: jest.fn(async () => 1),
    // RELEASE and EXTEND: act only while the key still holds the caller's token.
    eval: jest.fn(async (script: string, _n: number, key: string, token: string) => {
      if (values.get(key) !== token) return 0;
      if (script.includes("'del'")) values.delete(key);
      return 1;
    }),
  };
  return { redis: redis as unknown as Redis, values, calls: redis };
}

describe('claim', () => {
  it('is had by the first to ask, with a TTL in milliseconds, until released', async () => {
    const { redis, calls } = fakeRedis();
    const first = await claim(redis, 'k', 60_000);
    expect(first).toBeDefined();
    expect(calls.set).toHaveBeenCalledWith('k', first?.token, 'PX', 60_000, 'NX');
    expect(await claim(redis, 'k', 60_000)).toBeUndefined();
    expect(await first?.release()).toBe(true);
    expect(await claim(redis, 'k', 60_000)).toBeDefined();
  });

  it('releases only while the key is still its own: a claim that expired and was taken again is left alone', async () => {
    const { redis, values } = fakeRedis();
    const old = await claim(redis, 'k', 10);
    values.delete('k'); // expired
    const next = await claim(redis, 'k', 10);
    expect(await old?.release()).toBe(false);
    expect(values.get('k')).toBe(next?.token);
  });
});

describe('tryAcquireLock', () => {
  it('takes a free lock once, with a fence; extends and releases only its own', async () => {
    const { redis, values } = fakeRedis();
    const lock = await tryAcquireLock(redis, 'work', 1000);
    expect(lock).toMatchObject({ name: 'work', fence: 1 });
    expect(await tryAcquireLock(redis, 'work', 1000)).toBeUndefined();
    expect(await lock?.extend()).toBe(true);
    expect(await lock?.release()).toBe(true);
    expect(await lock?.extend()).toBe(false);
    expect(values.size).toBe(0);
  });
});
