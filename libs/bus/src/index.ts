export { ActivityLog } from './activity';
export { EventBus, type EventHandler } from './events';
export { parseJson } from './json';
export { onNotice } from './notices';
export { BULL_PREFIX, channels, keys, QUEUES } from './keys';
export { claim, isLocked, tryAcquireLock, withLock, type Claim, type Lock } from './locks';
export { createWorker, DEFAULT_JOB_OPTIONS, TypedQueue, type PayloadOf, type QueueName } from './queues';
export { closeRedis, connectionOf, createRedis, type Redis, type RedisOptions } from './redis';
export { RedisRouteTable, type RouteStore } from './routes';
