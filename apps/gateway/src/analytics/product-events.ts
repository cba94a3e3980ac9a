import { claim, keys, type EventBus, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import type { BusEvent, Owner, SessionView } from '@visp/contracts';
import type { TranscriptionRecord } from '@visp/store';
import type { ProductEvent } from './matomo';

/** How long a reported bus event is remembered: far longer than any gateway takes to hear it. */
const REPORTED_TTL_MS = 86_400_000;

/**
 * The session states that are product events, with the actions Matomo gets. A launch is a session's first state:
 * `pending` when it waits for capacity, `starting` when it had it at once, `ready` for a prepared session (the warm
 * pool, which announces nothing before its owner launches it). Each action is reported once per session.
 */
const SESSION_ACTIONS: Partial<Record<SessionView['state'], readonly string[]>> = { pending: ['launched'], starting: ['launched'], ready: ['launched', 'ready'], failed: ['failed'] };
/** Likewise for transcriptions: finished, one way or the other (a cancel is the user's, not an outcome). */
const TRANSCRIPTION_ACTIONS: Partial<Record<TranscriptionRecord['state'], string>> = { completed: 'completed', failed: 'failed' };

export interface ProductEventDeps {
  redis: Redis;
  events: EventBus;
  /** The session-manager, asked for a session's type (as the system, not as its owner). */
  sessions: { get(sid: string): Promise<SessionView> };
  transcriptions: { get(owner: Owner, id: string): Promise<TranscriptionRecord | undefined> };
  report: (event: ProductEvent) => void;
  logger: Logger;
}

/**
 * Turns what happens into product events: a sign-in where it happens (one gateway process handles it), and bus
 * events (session launched, ready, failed; transcription completed, failed), which every gateway process hears.
 * Of those, only the process that claims the event in Redis first reports it, so each is reported once however
 * many gateways and workers run; one that loses Redis for a moment reports nothing rather than twice.
 */
export class ProductEvents {
  private unsubscribe: (() => void) | undefined;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: ProductEventDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.events.subscribe((event) => {
      for (const work of this.fromBus(event)) this.track(work);
    });
  }

  /** A sign-in, by the method the gateway is configured with. */
  signedIn(username: string, method: string): void {
    this.deps.report({ category: 'user', action: 'signed-in', name: method, username });
  }

  /** Stops listening and lets the reports being prepared finish. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.allSettled([...this.pending]);
  }

  private track(work: Promise<ProductEvent | undefined>): void {
    const done = work.then(
      (event) => {
        if (event) this.deps.report(event);
      },
      (err: unknown) => this.deps.logger.warn({ err }, 'could not prepare a product event'),
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private fromBus(event: BusEvent): Array<Promise<ProductEvent | undefined>> {
    if (event.type === 'session.state') return (SESSION_ACTIONS[event.state] ?? []).map((action) => this.session(event.sid, action, event.owner));
    if (event.type === 'transcription.state') {
      const action = TRANSCRIPTION_ACTIONS[event.state];
      return action ? [this.transcription(event.id, event.state, action, event.owner)] : [];
    }
    return [];
  }

  private async session(sid: string, action: string, owner: Owner): Promise<ProductEvent | undefined> {
    if (!(await this.claim(`session:${sid}:${action}`))) return undefined;
    // The type is the session-manager's to tell; without it the event still counts, unnamed.
    const session = await this.deps.sessions.get(sid).catch(() => undefined);
    return { category: 'session', action, name: session?.type, value: action === 'ready' ? startupSeconds(session) : undefined, username: owner };
  }

  private async transcription(id: string, state: string, action: string, owner: Owner): Promise<ProductEvent | undefined> {
    if (!(await this.claim(`transcription:${id}:${state}`))) return undefined;
    const record = await this.deps.transcriptions.get(owner, id).catch(() => undefined);
    return { category: 'transcription', action, name: record?.backend, value: record?.durationSec, username: owner };
  }

  /** Whether this process is the one to report `event`: the first to claim its key (never released: it expires). */
  private async claim(event: string): Promise<boolean> {
    try {
      return (await claim(this.deps.redis, keys.analyticsReported(event), REPORTED_TTL_MS)) !== undefined;
    } catch (err) {
      this.deps.logger.debug({ err, event }, 'could not claim a product event; another gateway may report it');
      return false;
    }
  }
}

/** Seconds from the launch to ready, when the session says both. */
function startupSeconds(session: SessionView | undefined): number | undefined {
  // Ready twice: prepared ahead (the warm pool), then launched; how long the user waited is not recorded.
  if (!session?.readyAt || session.history.filter((entry) => entry.state === 'ready').length > 1) return undefined;
  const seconds = (Date.parse(session.readyAt) - Date.parse(session.createdAt)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
