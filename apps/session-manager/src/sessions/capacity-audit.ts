import { FINAL_SESSION_STATES } from '@visp/contracts';
import type { Logger } from '@visp/config';
import type { SessionRepository } from '@visp/store';
import type { CapacityGate } from './capacity';

export interface CapacityAuditDeps {
  gate: CapacityGate;
  sessions: Pick<SessionRepository, 'statesOf' | 'adoptedSince'>;
  /** This session-manager's INSTANCE_ID: only its own sessions count against its capacity. */
  instance: string;
  /** Sessions whose start this process is running: theirs to settle, whatever the record says meanwhile. */
  starting: () => ReadonlySet<string>;
  logger: Logger;
}

/** How often the slots are checked against the store. */
const AUDIT_INTERVAL_MS = 10_000;
/**
 * How far back each look for adoptions reaches before the previous one began: `adoptedAt` is recovery's clock,
 * which may be behind this host's.
 */
const CLOCK_SKEW_MS = 60_000;

/**
 * Keeps the capacity gate's slots true to the store, where recovery changes sessions without this process:
 *
 * - Frees the slots of sessions that ended here unseen: recovery stops a session whose container exited or
 *   vanished (an app that crashed, an OOM kill, a host reboot) in the store alone, and the gate would count it
 *   until the session-manager restarts. A slot is freed only when the session's record says it is over, so a
 *   launch between its lease and its record (no record yet) keeps its own. Looked at when a request has to wait,
 *   and every {@link AUDIT_INTERVAL_MS} while a held slot can make a difference; with room to spare a stale slot
 *   changes nothing, and no query is made.
 * - Counts the sessions recovery adopted: it revives a session whose container outlived its end (a removal that
 *   failed) and rebuilds one whose record was lost, and each would run uncounted, letting more sessions start
 *   than MAX_SESSIONS_TOTAL allows. Looked at every {@link AUDIT_INTERVAL_MS}, for adoptions since the last look.
 */
export class CapacityAudit {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** The audit asked for while one runs (whose reading may predate what prompted the ask), to run right after it. */
  private next?: Promise<void>;
  private stopped = false;
  /** When the last look for adoptions that succeeded began (the slots at start-up were read just before). */
  private adoptionsSeenUntil = Date.now();

  constructor(
    private readonly deps: CapacityAuditDeps,
    private readonly warmMax: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.soon(), AUDIT_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs an audit now, or right after the one running; resolves when it is over (never rejects). */
  soon(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.running) return (this.running = this.run());
    this.next ??= this.running.then(() => {
      this.next = undefined;
      this.running = this.stopped ? undefined : this.run();
      return this.running;
    });
    return this.next;
  }

  private run(): Promise<void> {
    return this.audit()
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'could not check the capacity slots against the store; next time'))
      .finally(() => {
        if (!this.next) this.running = undefined;
      });
  }

  /** Resolves once every audit asked for so far is over (for tests). */
  async settled(): Promise<void> {
    while (this.running || this.next) await (this.next ?? this.running);
  }

  private matters(): boolean {
    const { holding, waiting, capacity, warm } = this.deps.gate.load;
    return waiting > 0 || holding >= capacity || (this.warmMax > 0 && warm >= this.warmMax);
  }

  private async audit(): Promise<void> {
    if (this.matters()) await this.freeEnded();
    await this.countAdopted();
  }

  private async freeEnded(): Promise<void> {
    const { gate, sessions, starting, logger } = this.deps;
    const before = starting();
    const states = await sessions.statesOf(gate.held().filter((sid) => !before.has(sid)));
    // Read again after the query: a start may have begun meanwhile (it settles its own slot).
    const busy = starting();
    const over = [...states].filter(([sid, state]) => FINAL_SESSION_STATES.includes(state) && !busy.has(sid)).map(([sid]) => sid);
    if (over.length === 0) return;
    logger.info({ sids: over }, 'freeing the capacity of sessions that ended elsewhere');
    for (const sid of over) gate.release(sid);
  }

  private async countAdopted(): Promise<void> {
    const { gate, sessions, starting, instance, logger } = this.deps;
    const lookedAt = Date.now();
    const since = new Date(this.adoptionsSeenUntil - CLOCK_SKEW_MS);
    // A start in progress here settles its own slot (recovery cannot adopt it meanwhile: the start holds its lease).
    const counted = await gate.countRunning(async () => {
      const adopted = await sessions.adoptedSince(instance, since);
      const busy = starting();
      return adopted.filter(({ sid }) => !busy.has(sid)).map(({ sid, warm }) => ({ sid, preemptible: warm }));
    });
    this.adoptionsSeenUntil = lookedAt;
    if (counted.length > 0) logger.info({ sids: counted }, 'counting the capacity of sessions recovery adopted');
  }
}
