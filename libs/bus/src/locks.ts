import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { keys } from './keys';
import type { Redis } from './redis';

// Release and extend only if we still hold the key (compare the token), atomically.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** A key this process set first (SET NX), holding a token of its own until it expires or is released. */
export interface Claim {
  readonly key: string;
  readonly token: string;
  /**
   * Deletes the key if it still holds this claim's token (a claim that expired and was taken by another process is
   * left alone); false if it had already expired or been taken.
   */
  release(): Promise<boolean>;
  /** Keeps the claim for another `ttlMs` from now; false if it had already expired or been taken. */
  extend(ttlMs: number): Promise<boolean>;
}

/**
 * Claims `key` for `ttlMs` if nobody holds it: "once across all processes" (the first to set it does the work).
 * Undefined if another process holds it. Left alone, the claim expires; `release` gives it up early.
 */
export async function claim(redis: Redis, key: string, ttlMs: number): Promise<Claim | undefined> {
  const token = randomBytes(16).toString('hex');
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
  return {
    key,
    token,
    release: async () => (await redis.eval(RELEASE, 1, key, token)) === 1,
    extend: async (extendMs) => (await redis.eval(EXTEND, 1, key, token, String(extendMs))) === 1,
  };
}

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
  const held = await claim(redis, keys.lock(name), ttlMs);
  if (!held) return undefined;
  const fence = await redis.incr(keys.lockFence(name));
  return {
    name,
    fence,
    extend: (extendMs = ttlMs) => held.extend(extendMs),
    release: () => held.release(),
  };
}

/** Whether any process holds the lock `name` now. */
export async function isLocked(redis: Redis, name: string): Promise<boolean> {
  return (await redis.exists(keys.lock(name))) === 1;
}

/**
 * Runs `work` holding the lock `name`, released afterwards whatever happens. Waits for it up to `waitMs`, asking
 * again every 10–30 ms (randomly, so that waiters do not ask in step): it suits locks held for a few milliseconds.
 * When the wait runs out, throws what `busy` makes.
 */
export async function withLock<T>(redis: Redis, name: string, options: { ttlMs: number; waitMs: number; busy: () => Error }, work: (lock: Lock) => Promise<T>): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const lock = await tryAcquireLock(redis, name, options.ttlMs);
    if (lock) {
      try {
        return await work(lock);
      } finally {
        await lock.release().catch(() => false);
      }
    }
    if (Date.now() > deadline) throw options.busy();
    await sleep(10 + Math.floor(Math.random() * 20));
  }
}
