import { keys, withLock, type Redis } from '@visp/bus';
import type { Owner } from '@visp/contracts';
import { AppError } from '@visp/service-kit';

/** What a user's uploads in progress hold: their count and the bytes each may still write. */
export interface Held {
  count: number;
  bytes: number;
}

/** How long a reservation outlives a gateway that died during the upload. */
const RESERVATION_TTL_MS = 2 * 3600_000;
const LOCK_TTL_MS = 10_000;
const LOCK_WAIT_MS = 10_000;

/**
 * Uploads in progress, per user, in Redis: a user's quota and pending limit must count the uploads still arriving,
 * or ten sent at once would each find the quota empty (the record that counts an upload is written only once it
 * has arrived). Deciding and reserving take a short per-owner lock; an upload then holds its reservation until its
 * record exists (counted twice for a moment, never not at all) or it is refused.
 */
export class UploadReservations {
  constructor(private readonly redis: Redis) {}

  /**
   * Under the owner's lock: `decide` sees what the owner's uploads in progress hold, and returns how many bytes this
   * one may write (or throws a refusal); that is reserved for `id`.
   */
  async reserve<T extends { maxBytes: number }>(owner: Owner, id: string, decide: (held: Held) => Promise<T>): Promise<T> {
    const key = keys.uploadReservations(owner);
    return this.locked(owner, async () => {
      const now = Date.now();
      // The reservations first, then (in `decide`) the stored records: an upload that finishes in between is
      // then counted once or twice, never missed.
      await this.redis.zremrangebyscore(key, '-inf', String(now));
      const members = await this.redis.zrange(key, '0', '-1');
      const held = { count: members.length, bytes: members.reduce((sum, m) => sum + Number(m.split(':')[1] ?? 0), 0) };
      const decided = await decide(held);
      await this.redis.multi().zadd(key, String(now + RESERVATION_TTL_MS), `${id}:${decided.maxBytes}`).pexpire(key, RESERVATION_TTL_MS).exec();
      return decided;
    });
  }

  /** Gives the reservation back: the upload was refused, or its record now counts it. */
  async release(owner: Owner, id: string, bytes: number): Promise<void> {
    await this.redis.zrem(keys.uploadReservations(owner), `${id}:${bytes}`);
  }

  private locked<T>(owner: Owner, work: () => Promise<T>): Promise<T> {
    const busy = () => new AppError('unavailable', 'another of your uploads is being checked; try again');
    return withLock(this.redis, `upload-quota:${owner}`, { ttlMs: LOCK_TTL_MS, waitMs: LOCK_WAIT_MS, busy }, async (lock) => {
      const result = await work();
      // Lapsed meanwhile (a long pause): another decision may not have seen this one, so it does not stand.
      if (!(await lock.extend())) throw new AppError('unavailable', 'the upload could not be checked against your quota; try again');
      return result;
    });
  }
}
