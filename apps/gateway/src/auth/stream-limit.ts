import { AppError } from '@visp/service-kit';

/**
 * Open WebSockets (the webclient's and those proxied into sessions) and SSE streams per user, in this gateway
 * process. Each holds a socket and memory for as long as the client likes, so without a cap one user (or one
 * leaked API token) could hold the gateway's file descriptors hostage.
 */
export class StreamLimit {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /**
   * Counts one more stream for `username`, or throws a `rate_limited` AppError (429) at the cap. The returned
   * release may be called any number of times; only the first counts.
   */
  take(username: string): () => void {
    const now = this.open.get(username) ?? 0;
    if (now >= this.max) throw new AppError('rate_limited', `you have ${now} open WebSockets and event streams, the most allowed; close one first`);
    this.open.set(username, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(username) ?? 1) - 1;
      if (left > 0) this.open.set(username, left);
      else this.open.delete(username);
    };
  }

  /** How many streams `username` has open here. */
  count(username: string): number {
    return this.open.get(username) ?? 0;
  }
}
