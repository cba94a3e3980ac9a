import { FINAL_SESSION_STATES } from '@visp/contracts';
import type { Logger } from '@visp/config';
import type { SessionRepository } from '@visp/store';
import type { CapacityGate } from './capacity';

export interface CapacityAuditDeps {
  gate: CapacityGate;
  sessions: Pick<SessionRepository, 'statesOf'>;
  /** Sessions whose start this process is running: theirs to settle, whatever the record says meanwhile. */
  starting: () => ReadonlySet<string>;
  logger: Logger;
}

/** How often the slots are checked while they matter (someone waits, none is free, or the pool is full). */
const AUDIT_INTERVAL_MS = 10_000;

/**
 * Frees the slots of sessions that ended without this process: recovery stops a session whose container exited
 * or vanished (an app that crashed, an OOM kill, a host reboot) in the store alone, and the gate would count it
 * until the session-manager restarts. A slot is freed only when the session's record says it is over, so a
 * launch between its lease and its record (no record yet) keeps its own.
 *
 * It looks when a request has to wait, and every {@link AUDIT_INTERVAL_MS} while a held slot can make a
 * difference; with room to spare a stale slot changes nothing, and no query is made.
 */
export class CapacityAudit {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly deps: CapacityAuditDeps,
    private readonly warmMax: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.matters()) this.soon();
    }, AUDIT_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs an audit now, or right after the one running (whose reading may predate what prompted this call). */
  soon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.audit()
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not check the capacity slots against the store; next time'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.soon();
        }
      });
  }

  /** Resolves once every audit asked for so far is over (for tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private matters(): boolean {
    const { holding, waiting, capacity, warm } = this.deps.gate.load;
    return waiting > 0 || holding >= capacity || (this.warmMax > 0 && warm >= this.warmMax);
  }

  private async audit(): Promise<void> {
    const { gate, sessions, starting, logger } = this.deps;
    const states = await sessions.statesOf(gate.held().filter((sid) => !starting().has(sid)));
    const over = [...states].filter(([sid, state]) => FINAL_SESSION_STATES.includes(state) && !starting().has(sid)).map(([sid]) => sid);
    if (over.length === 0) return;
    logger.info({ sids: over }, 'freeing the capacity of sessions that ended elsewhere');
    for (const sid of over) gate.release(sid);
  }
}
