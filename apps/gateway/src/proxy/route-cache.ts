import type { RedisRouteTable } from '@visp/bus';
import type { Route } from '@visp/contracts';
import { NoticedCache } from '../noticed-cache';

/** The route table in memory: read from Redis on a miss, dropped when a change is announced. */
export class RouteCache {
  private readonly cache: NoticedCache<Route>;
  private unwatch?: () => Promise<void>;

  constructor(private readonly table: RedisRouteTable) {
    this.cache = new NoticedCache((sid) => table.get(sid), { maxAgeMs: 10_000, maxEntries: 100_000 });
  }

  async start(): Promise<void> {
    this.unwatch = await this.table.watch((change) => this.cache.drop(change.sid));
  }

  async stop(): Promise<void> {
    await this.unwatch?.();
  }

  /** The route if it is in memory: the hot path's way, which waits on nothing. */
  peek(sid: string): Route | undefined {
    return this.cache.peek(sid);
  }

  get(sid: string): Promise<Route | undefined> {
    return this.cache.get(sid);
  }
}
