import { randomBytes } from 'node:crypto';
import { keys } from './keys';
import type { Redis } from './redis';

// Release and extend only if we still hold the lock (compare the token), atomically.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface Lock {
  readonly name: string;
  /**
   * Grows with every acquisition of this lock. Writers pass it along so that a holder whose lock expired
   * (paused, partitioned) can be told apart from the current one: the larger fence wins.
   */
  readonly fence: number;
  /** Keeps the lock for another `ttlMs`; false if it was lost meanwhile. */
  extend(ttlMs?: number): Promise<boolean>;
  /** Gives the lock up if still held; false if it had already expired or been taken. */
  release(): Promise<boolean>;
}

/** Takes the lock if it is free, for `ttlMs`; undefined if someone else holds it. */
export async function tryAcquireLock(redis: Redis, name: string, ttlMs: number): Promise<Lock | undefined> {
  const key = keys.lock(name);
  const token = randomBytes(16).toString('hex');
  const taken = await redis.set(key, token, 'PX', ttlMs, 'NX');
  if (taken !== 'OK') return undefined;
  const fence = await redis.incr(keys.lockFence(name));
  return {
    name,
    fence,
    extend: async (extendMs = ttlMs) => (await redis.eval(EXTEND, 1, key, token, String(extendMs))) === 1,
    release: async () => (await redis.eval(RELEASE, 1, key, token)) === 1,
  };
}
