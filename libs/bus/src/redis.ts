import { Redis } from 'ioredis';
import type { Logger } from '@visp/config';

export type { Redis } from 'ioredis';

export interface RedisOptions {
  /** Shown in `CLIENT LIST`, and in our logs. */
  name: string;
  logger?: Logger;
  /**
   * `null` makes commands wait through reconnects (what BullMQ workers need); a number fails a command after
   * that many retries, so a request handler answers 503 instead of hanging. @defaultValue 3
   */
  maxRetriesPerRequest?: number | null;
}

export function createRedis(url: string, options: RedisOptions): Redis {
  const redis = new Redis(url, {
    connectionName: `visp-${options.name}`,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 3 : options.maxRetriesPerRequest,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  watchConnection(redis, options);
  connections.set(redis, options);
  return redis;
}

/** How each connection createRedis made was named and logs, for the connections duplicated from it. */
const connections = new WeakMap<Redis, RedisOptions>();

/** An outage is logged once when it begins and once when it ends, never per reconnect attempt. */
function watchConnection(redis: Redis, options: RedisOptions): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) options.logger?.warn({ err: err.message, connection: options.name }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) options.logger?.info({ connection: options.name }, 'redis reconnected');
    down = false;
  });
}

/**
 * A second connection to the same Redis, for what keeps a connection to itself: a subscription (a subscribed
 * connection can do nothing else), or a BullMQ worker's (`{ maxRetriesPerRequest: null }`: BullMQ refuses a worker
 * connection whose commands could give up during an outage). Named `visp-<parent>-<purpose>`, its outages logged
 * like its parent's; without an error listener ioredis prints every failed reconnect to stderr.
 */
export function connectionOf(redis: Redis, purpose: string, options: Pick<RedisOptions, 'maxRetriesPerRequest'> = {}): Redis {
  const parent = connections.get(redis);
  const name = `${parent?.name ?? 'redis'}-${purpose}`;
  const connection = redis.duplicate({ connectionName: `visp-${name}`, ...options });
  watchConnection(connection, { name, logger: parent?.logger });
  return connection;
}

/** Quits politely, or disconnects if Redis is not there to answer. Safe to call twice. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  await redis.quit().catch(() => redis.disconnect());
}
