import { withLock, type Redis } from '@visp/bus';
import type { Owner } from '@visp/contracts';
import { AppError } from '@visp/service-kit';

export interface OwnerLockOptions {
  /** How long a holder that died keeps others out. @defaultValue 10000 */
  ttlMs?: number;
  /** How long a request waits for its turn before a 503. @defaultValue 10000 */
  waitMs?: number;
}

/**
 * One user's session launches, one at a time, across every session-manager: counting a user's active sessions
 * and storing a new one must not interleave, or every request that counts before the first insert gets in
 * (20 at once all did). The database cannot do it alone: FerretDB has no transactions and runs a conditional
 * write as a read then a write. So a Redis lock per owner (`visp:lock:session-limit:<owner>`) fences the
 * count and the insert; within a process, requests of one owner queue on a promise instead of polling Redis.
 */
export class OwnerLock {
  private readonly queues = new Map<Owner, Promise<unknown>>();
  private readonly ttlMs: number;
  private readonly waitMs: number;

  constructor(
    private readonly redis: Redis,
    options: OwnerLockOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.waitMs = options.waitMs ?? 10_000;
  }

  /**
   * Runs `work` holding the owner's lock. `work` gets `stillHeld()`, to ask after its writes whether the lock
   * held throughout (it can expire under a long pause, or vanish with a Redis restart); if not, `work` must undo
   * what it wrote, since someone else may have counted meanwhile.
   */
  run<T>(owner: Owner, work: (stillHeld: () => Promise<boolean>) => Promise<T>): Promise<T> {
    const before = this.queues.get(owner) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.locked(owner, work));
    this.queues.set(owner, mine);
    // Forget the queue once it is empty, so that the map does not grow with every user ever seen.
    void mine.catch(() => undefined).then(() => this.queues.get(owner) === mine && this.queues.delete(owner));
    return mine;
  }

  private locked<T>(owner: Owner, work: (stillHeld: () => Promise<boolean>) => Promise<T>): Promise<T> {
    // Another session-manager holds it for a count and an insert, a few milliseconds.
    const busy = () => new AppError('unavailable', `another launch for ${owner} is in progress; try again`);
    return withLock(this.redis, `session-limit:${owner}`, { ttlMs: this.ttlMs, waitMs: this.waitMs, busy }, (lock) => work(() => lock.extend(this.ttlMs)));
  }
}
