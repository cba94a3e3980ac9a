import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@visp/config';

export interface ReporterOptions {
  /** Reports waiting to be sent; beyond, new ones are dropped. @defaultValue 1000 */
  maxQueued?: number;
  /** Requests to Matomo at once. @defaultValue 2 */
  concurrency?: number;
  /** How long one request may take before it counts as failed. @defaultValue 3000 */
  timeoutMs?: number;
  /** At most one log line per this many ms about failures (each is counted). @defaultValue 60000 */
  logEveryMs?: number;
  /** How long close() lets queued reports go out. @defaultValue 2000 */
  drainMs?: number;
  /** For tests. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

type Outcome = 'sent' | 'failed' | 'dropped';
const OUTCOMES: readonly Outcome[] = ['sent', 'failed', 'dropped'];

/**
 * Sends tracking requests to Matomo in the background. `send` never waits and never throws: a Matomo that is
 * down, slow or refusing costs a counted failure and (at most once a minute) a log line, never a user's request.
 * The queue is bounded, so a Matomo that hangs cannot make the gateway hold reports without end.
 */
export class MatomoReporter {
  private readonly queue: URLSearchParams[] = [];
  private readonly options: Required<Omit<ReporterOptions, 'fetch'>>;
  private readonly fetch: typeof fetch;
  private inFlight = 0;
  private counter: Counter<'outcome'> | undefined;
  private readonly drained = new Set<() => void>();
  private closing: Promise<void> | undefined;
  private lastLogAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly endpoint: URL,
    private readonly logger: Logger,
    options: ReporterOptions = {},
  ) {
    this.options = { maxQueued: 1000, concurrency: 2, timeoutMs: 3000, logEveryMs: 60_000, drainMs: 2000, ...options };
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Counts outcomes in `visp_analytics_reports_total` of the service's registry (after the service exists). */
  countIn(registry: Registry): void {
    this.counter = new Counter({
      name: 'visp_analytics_reports_total',
      help: 'Product events reported to Matomo by outcome: sent; failed (Matomo down, slow or refusing); dropped (queue full, or the gateway closing)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    for (const outcome of OUTCOMES) this.counter.inc({ outcome }, 0);
  }

  /** Queues one tracking request; returns at once. */
  send(params: URLSearchParams): void {
    if (this.closing || this.queue.length >= this.options.maxQueued) {
      this.failed('dropped', this.closing ? 'the gateway is closing' : `more than ${this.options.maxQueued} reports waiting`);
      return;
    }
    this.queue.push(params);
    this.pump();
  }

  /** Lets queued reports go out for a short while, then drops the rest. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.drainMs);
      });
      await Promise.race([this.idle(), deadline]);
      clearTimeout(timer);
      const left = this.queue.splice(0);
      for (const _ of left) this.failed('dropped', 'the gateway closed before it could send them');
    })();
    return this.closing;
  }

  private idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.add(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const params = this.queue.shift() as URLSearchParams;
      this.inFlight++;
      void this.post(params).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
    if (this.inFlight === 0 && this.queue.length === 0) {
      for (const resolve of this.drained) resolve();
      this.drained.clear();
    }
  }

  private async post(params: URLSearchParams): Promise<void> {
    try {
      // POST, so nothing of the report lands in a proxy's or Matomo's access log as a URL.
      const res = await this.fetch(this.endpoint, { method: 'POST', body: params, signal: AbortSignal.timeout(this.options.timeoutMs) });
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) throw new Error(`Matomo answered ${res.status}`);
      this.counter?.inc({ outcome: 'sent' });
    } catch (err) {
      this.failed('failed', err instanceof Error ? err.message : String(err));
    }
  }

  private failed(outcome: Exclude<Outcome, 'sent'>, reason: string): void {
    this.counter?.inc({ outcome });
    this.unlogged++;
    const now = Date.now();
    if (now - this.lastLogAt < this.options.logEveryMs) return;
    this.logger.warn({ outcome, reason, reports: this.unlogged, endpoint: this.endpoint.origin }, 'could not report to Matomo (counted in visp_analytics_reports_total)');
    this.lastLogAt = now;
    this.unlogged = 0;
  }
}
