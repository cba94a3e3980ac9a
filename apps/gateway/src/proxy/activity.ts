import type { ActivityLog } from '@visp/bus';
import type { Logger } from '@visp/config';

/** A session's use is written at most this often by one gateway. */
const RESOLUTION_MS = 10_000;

/**
 * Requests an open page makes by itself, on a timer, whoever is there: Jupyter's polling of its API, RStudio's
 * event long-poll. They must not keep a forgotten session alive. Paths are relative to the app's root.
 */
const POLLED_READS = [/^\/api\/(status|kernels|sessions|terminals|kernelspecs|contents|metrics)(\/[^/?]*)?\/?(\?|$)/];
const POLLED_ANY_METHOD = [/^\/events\/get_events/];

/** Whether a request to a session's app (`appPath` below `/s/<sid>`) is its user at work. */
export function countsAsActivity(method: string, appPath: string): boolean {
  if (POLLED_ANY_METHOD.some((p) => p.test(appPath))) return false;
  if (method === 'GET' || method === 'HEAD') return !POLLED_READS.some((p) => p.test(appPath));
  return true;
}

/** Records user activity per session, throttled; a lost write only delays culling, so failures are logged. */
export class ActivityRecorder {
  private readonly lastWritten = new Map<string, number>();

  constructor(
    private readonly log: ActivityLog,
    private readonly logger: Logger,
  ) {}

  touch(sid: string, now = Date.now()): void {
    if (now - (this.lastWritten.get(sid) ?? 0) < RESOLUTION_MS) return;
    this.lastWritten.set(sid, now);
    this.log.touch(sid, now).catch((err: unknown) => this.logger.warn({ err, sid }, 'could not record activity'));
  }

  /**
   * A proxied WebSocket's use, from its opening to its close: what the user sends counts, what the app sends
   * (output, pings) does not. The bytes the user's socket has read are looked at as often as activity may be
   * written, never per message: the proxy's only work per message is to pass it on.
   */
  watch(sid: string, userSocket: { readonly bytesRead: number; once(event: 'close', listener: () => void): unknown }): void {
    let seen = userSocket.bytesRead;
    const look = () => {
      if (userSocket.bytesRead === seen) return;
      seen = userSocket.bytesRead;
      this.touch(sid);
    };
    const timer = setInterval(look, RESOLUTION_MS).unref();
    userSocket.once('close', () => {
      clearInterval(timer);
      look();
    });
    this.touch(sid);
  }
}
