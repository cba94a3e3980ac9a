import { closeRedis, createRedis, RedisRouteTable } from '@visp/bus';
import type { Route } from '@visp/contracts';
import { testRedisUrl, waitFor } from '@visp/testing';
import { RouteCache } from './route-cache';

const redis = createRedis(testRedisUrl(), { name: 'route-cache-test' });
const table = new RedisRouteTable(redis);
const cache = new RouteCache(new RedisRouteTable(redis));
const route = (target: string): Route => ({ sid: 'routecachea2', owner: 'ann', target, token: 'token-0123456789abcdef', stripPrefix: false, updatedAt: new Date().toISOString() });

beforeAll(() => cache.start());
afterAll(async () => {
  await table.delete('routecachea2');
  await cache.stop();
  await closeRedis(redis);
});

it('serves a new route at once, and a moved or removed one within 100 ms of the change', async () => {
  expect(await cache.get('routecachea2')).toBeUndefined();
  await table.set(route('http://127.0.0.1:1001'));
  expect((await cache.get('routecachea2'))?.target).toBe('http://127.0.0.1:1001'); // misses are never cached

  const moved = Date.now();
  await table.set(route('http://127.0.0.1:1002'));
  await waitFor('the moved route', async () => (await cache.get('routecachea2'))?.target === 'http://127.0.0.1:1002', 1000, 2);
  expect(Date.now() - moved).toBeLessThan(100);

  const removed = Date.now();
  await table.delete('routecachea2');
  await waitFor('the route gone', async () => (await cache.get('routecachea2')) === undefined, 1000, 2);
  expect(Date.now() - removed).toBeLessThan(100);
});
