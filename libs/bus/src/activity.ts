import type { SessionId } from '@visp/contracts';
import { keys } from './keys';
import type { Redis } from './redis';

/**
 * When each session was last used by its owner. The gateway records proxied traffic (throttled, polling
 * filtered out); the session-manager's culler reads it. One sorted set, so a reading of many is one command.
 */
export class ActivityLog {
  constructor(private readonly redis: Redis) {}

  /** Records use at `at`; never moves a session's time backwards (ZADD GT), whatever order writes land in. */
  async touch(sid: SessionId, at = Date.now()): Promise<void> {
    await this.redis.zadd(keys.activity, 'GT', at, sid);
  }

  /** The last recorded use of each session that has one. */
  async lastSeen(sids: readonly SessionId[]): Promise<Map<SessionId, number>> {
    if (sids.length === 0) return new Map();
    const scores = await this.redis.zmscore(keys.activity, ...sids);
    const seen = new Map<SessionId, number>();
    sids.forEach((sid, i) => {
      const score = scores[i];
      if (score !== null && score !== undefined) seen.set(sid, Number(score));
    });
    return seen;
  }

  async forget(sid: SessionId): Promise<void> {
    await this.redis.zrem(keys.activity, sid);
  }
}
