import { isLocked, tryAcquireLock, type Lock, type Redis } from '@visp/bus';

/** How long a lease outlives a holder that died without giving it back. */
const LEASE_TTL_MS = 30_000;
const RENEW_EVERY_MS = 10_000;

interface Held {
  lock: Lock;
  holders: number;
  renew: NodeJS.Timeout;
}

/**
 * Per-session leases in Redis (`visp:lock:session:<sid>`): whoever holds one may change that session's container,
 * route and record; everyone else leaves it alone. The session-manager holds a session's lease from before its
 * record exists until its start or stop is over; recovery acts on a session only under its lease. Within one
 * process the lease is shared (a stop during a start), and renewed until the last holder lets go.
 */
export class SessionLeases {
  private readonly held = new Map<string, Held>();

  constructor(private readonly redis: Redis) {}

  /** Takes the lease (or joins this process's hold on it); false when another process holds it. */
  async acquire(sid: string): Promise<boolean> {
    const current = this.held.get(sid);
    if (current) {
      current.holders++;
      return true;
    }
    const lock = await tryAcquireLock(this.redis, `session:${sid}`, LEASE_TTL_MS);
    if (!lock) return false;
    const renew = setInterval(() => void lock.extend(LEASE_TTL_MS).catch(() => false), RENEW_EVERY_MS);
    renew.unref();
    this.held.set(sid, { lock, holders: 1, renew });
    return true;
  }

  async release(sid: string): Promise<void> {
    const current = this.held.get(sid);
    if (!current || --current.holders > 0) return;
    this.held.delete(sid);
    clearInterval(current.renew);
    await current.lock.release().catch(() => false);
  }

  /** Whether any process, this one included, holds the lease now: that session's start or stop is under way there. */
  heldAnywhere(sid: string): Promise<boolean> {
    return isLocked(this.redis, `session:${sid}`);
  }

  /** Runs `work` under the lease, or returns undefined without running it when someone else holds it. */
  async with<T>(sid: string, work: () => Promise<T>): Promise<T | undefined> {
    if (!(await this.acquire(sid))) return undefined;
    try {
      return await work();
    } finally {
      await this.release(sid);
    }
  }
}
