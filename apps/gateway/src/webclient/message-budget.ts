/**
 * A token bucket over one socket's messages: `perSecond` on average, twice that in a burst. Over it, messages are
 * dropped, and the client is warned at most once a second (`warn` says whether to warn now).
 */
export class MessageBudget {
  private tokens: number;
  private refilledAt = Date.now();
  private warnedAt = 0;

  constructor(readonly perSecond: number) {
    this.tokens = 2 * perSecond;
  }

  /** Whether one more message may be handled now; when not, `warn` is true at most once a second. */
  take(now = Date.now()): { admitted: boolean; warn: boolean } {
    this.tokens = Math.min(2 * this.perSecond, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { admitted: true, warn: false };
    }
    const warn = now - this.warnedAt >= 1000;
    if (warn) this.warnedAt = now;
    return { admitted: false, warn };
  }
}
