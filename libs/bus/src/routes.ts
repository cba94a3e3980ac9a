import { RouteChangeSchema, RouteSchema, type Route, type RouteChange, type SessionId } from '@visp/contracts';
import { channels, keys } from './keys';
import { parseJson } from './json';
import { closeRedis, connectionOf, type Redis } from './redis';

/** How a session is reached. The shared, durable table; each gateway caches it and listens for changes. */
export interface RouteStore {
  set(route: Route): Promise<void>;
  get(sid: SessionId): Promise<Route | undefined>;
  delete(sid: SessionId): Promise<boolean>;
  all(): Promise<Route[]>;
}

const parseRoute = (json: string | null) => parseJson(RouteSchema, json);

export class RedisRouteTable implements RouteStore {
  constructor(private readonly redis: Redis) {}

  /** Writes the route and announces the change in one transaction, so no gateway misses it. */
  async set(route: Route): Promise<void> {
    const valid = RouteSchema.parse(route);
    const change: RouteChange = { sid: valid.sid, op: 'set' };
    await this.redis.multi().hset(keys.routes, valid.sid, JSON.stringify(valid)).publish(channels.routes(this.redis), JSON.stringify(change)).exec();
  }

  async get(sid: SessionId): Promise<Route | undefined> {
    return parseRoute(await this.redis.hget(keys.routes, sid));
  }

  async delete(sid: SessionId): Promise<boolean> {
    const change: RouteChange = { sid, op: 'delete' };
    const results = await this.redis.multi().hdel(keys.routes, sid).publish(channels.routes(this.redis), JSON.stringify(change)).exec();
    return results?.[0]?.[1] === 1;
  }

  async all(): Promise<Route[]> {
    const entries = await this.redis.hvals(keys.routes);
    return entries.map((e) => parseRoute(e)).filter((r): r is Route => r !== undefined);
  }

  /** Calls `onChange` for every route change; returns the function that stops listening. */
  async watch(onChange: (change: RouteChange) => void): Promise<() => Promise<void>> {
    const subscriber = connectionOf(this.redis, 'routes');
    subscriber.on('message', (_channel: string, message: string) => {
      const change = parseJson(RouteChangeSchema, message);
      if (change) onChange(change);
    });
    await subscriber.subscribe(channels.routes(subscriber));
    return () => closeRedis(subscriber);
  }
}
