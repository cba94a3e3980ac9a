import type { RedisRouteTable } from '@visp/bus';
import type { Route } from '@visp/contracts';

/** How long a cached route is trusted without a change notice: a safety net for notices lost in a Redis restart. */
const MAX_AGE_MS = 10_000;

/**
 * The route table in memory: read from Redis on a miss, dropped when a change is announced. Misses are not
 * cached, so a new route works at once; a read that raced a change is not cached either.
 */
export class RouteCache {
  private readonly routes = new Map<string, { route: Route; at: number }>();
  /** Bumped by every change notice: a read begun before one must not cache what it read. */
  private generation = 0;
  private unwatch?: () => Promise<void>;

  constructor(private readonly table: RedisRouteTable) {}

  async start(): Promise<void> {
    this.unwatch = await this.table.watch((change) => {
      this.generation++;
      this.routes.delete(change.sid);
    });
  }

  async stop(): Promise<void> {
    await this.unwatch?.();
  }

  async get(sid: string): Promise<Route | undefined> {
    const cached = this.routes.get(sid);
    if (cached && Date.now() - cached.at < MAX_AGE_MS) return cached.route;
    const generation = this.generation;
    const route = await this.table.get(sid);
    if (route && generation === this.generation) this.routes.set(sid, { route, at: Date.now() });
    else this.routes.delete(sid);
    return route;
  }
}
