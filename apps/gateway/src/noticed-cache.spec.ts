import { NoticedCache } from './noticed-cache';

describe('NoticedCache', () => {
  it('reads once until a notice drops the value; misses are not kept', async () => {
    const store = new Map([['a', 1]]);
    const loads: string[] = [];
    const cache = new NoticedCache(async (key) => (loads.push(key), store.get(key)), { maxAgeMs: 60_000, maxEntries: 10 });
    expect([await cache.get('a'), await cache.get('a'), await cache.get('b')]).toEqual([1, 1, undefined]);
    store.set('a', 2).set('b', 3);
    expect([await cache.get('a'), await cache.get('b')]).toEqual([1, 3]);
    cache.drop('a');
    expect(await cache.get('a')).toBe(2);
    expect(loads).toEqual(['a', 'b', 'b', 'a']);
  });

  it('peeks at fresh values only, and never reads', async () => {
    let reads = 0;
    const cache = new NoticedCache(async (key) => (reads++, key.toUpperCase()), { maxAgeMs: 50, maxEntries: 10 });
    expect(cache.peek('a')).toBeUndefined();
    expect(reads).toBe(0);
    await cache.get('a');
    expect(cache.peek('a')).toBe('A');
    cache.drop('a');
    expect(cache.peek('a')).toBeUndefined();
    await cache.get('a');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cache.peek('a')).toBeUndefined();
    expect(reads).toBe(2);
  });

  it('drops every value one notice names, and does not keep a value read meanwhile', async () => {
    const cache = new NoticedCache(async (key) => ({ key, owner: key.startsWith('x') ? 'x' : 'y' }), { maxAgeMs: 60_000, maxEntries: 10 });
    await Promise.all(['x1', 'x2', 'y1'].map((key) => cache.get(key)));
    const racing = cache.get('x3');
    cache.dropWhere((value) => value.owner === 'x');
    await racing;
    expect(['x1', 'x2', 'x3', 'y1'].map((key) => cache.peek(key)?.key)).toEqual([undefined, undefined, undefined, 'y1']);
  });

  it('does not keep a value read while a notice arrived', async () => {
    let release: () => void = () => undefined;
    let value = 'old';
    const cache = new NoticedCache(
      async () => {
        const read = value;
        await new Promise<void>((resolve) => (release = resolve));
        return read;
      },
      { maxAgeMs: 60_000, maxEntries: 10 },
    );
    const racing = cache.get('k');
    value = 'new';
    cache.drop('k');
    release();
    expect(await racing).toBe('old');
    const next = cache.get('k');
    release();
    expect(await next).toBe('new');
  });

  it('evicts the oldest entry when full, and rereads after maxAge', async () => {
    let reads = 0;
    const cache = new NoticedCache(async (key) => (reads++, key), { maxAgeMs: 50, maxEntries: 2 });
    await cache.get('a');
    await cache.get('b');
    await cache.get('c'); // a goes
    await cache.get('b');
    expect(reads).toBe(3);
    await cache.get('a');
    expect(reads).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await cache.get('a');
    expect(reads).toBe(5);
  });
});
