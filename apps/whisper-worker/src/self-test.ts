import type { Engine } from './engines/engine';

/** How long a passed self-test counts; a failed one is retried at the next readiness probe. */
const FRESH_MS = 10 * 60_000;
const TIMEOUT_MS = 120_000;

/**
 * The engine's self-test for /readyz: run at start, then again when the last pass is old, never two at once.
 * A probe while one runs waits for it (and the probe's own timeout says "not yet").
 */
export class SelfTest {
  private passedAt = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly engine: Engine) {}

  check(): Promise<void> {
    if (Date.now() - this.passedAt < FRESH_MS) return Promise.resolve();
    this.running ??= this.engine
      .selfTest(AbortSignal.timeout(TIMEOUT_MS))
      .then(() => void (this.passedAt = Date.now()))
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
