import type { ActivityLog, EventBus, RouteStore } from '@visp/bus';
import { sessionPath, type Route } from '@visp/contracts';
import { sessionType, type Logger, type SessionTypeConfig, type SessionTypes } from '@visp/config';
import type { SessionRecord, SessionRepository } from '@visp/store';
import type { SessionService } from './sessions.service';

/** All in milliseconds; 0 switches idle culling or the age limit off, and the warning. */
export interface CullPolicy {
  idleMs: number;
  maxAgeMs: number;
  warningMs: number;
  intervalMs: number;
  /** How long a prepared session (the warm pool) waits for its owner's launch; 0: the pool is off. */
  warmUnusedMs: number;
}

export type CullDecision =
  | { action: 'keep' }
  | { action: 'warn'; cullAt: number; reason: string }
  /** Warned already, the deadline not yet passed. */
  | { action: 'wait' }
  | { action: 'cull'; reason: string };

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s % 3600 === 0 && s > 0) return `${s / 3600} h`;
  if (s % 60 === 0 && s > 0) return `${s / 60} min`;
  return `${s} s`;
}

/**
 * What to do with one ready session now. Nobody is culled without a warning first (when warnings are on):
 * a deadline that passes unannounced, between two passes, is moved to the next pass and announced.
 */
export function decide(session: { createdAt: number; lastActivity: number; warned: boolean }, now: number, policy: CullPolicy): CullDecision {
  const deadlines: Array<{ at: number; reason: string }> = [];
  if (policy.idleMs > 0) deadlines.push({ at: session.lastActivity + policy.idleMs, reason: `idle for ${formatDuration(policy.idleMs)}` });
  if (policy.maxAgeMs > 0) deadlines.push({ at: session.createdAt + policy.maxAgeMs, reason: `reached the maximum age of ${formatDuration(policy.maxAgeMs)}` });
  const first = deadlines.sort((a, b) => a.at - b.at)[0];
  if (!first || now < first.at - policy.warningMs) return { action: 'keep' };
  if (now >= first.at && (policy.warningMs === 0 || session.warned)) return { action: 'cull', reason: first.reason };
  if (session.warned) return { action: 'wait' };
  return { action: 'warn', cullAt: Math.max(first.at, now + policy.intervalMs), reason: first.reason };
}

export interface CullerDeps {
  sessions: SessionRepository;
  service: SessionService;
  activity: ActivityLog;
  routes: RouteStore;
  events: EventBus;
  types: SessionTypes;
  instance: string;
  logger: Logger;
}

const PROBE_TIMEOUT_MS = 3000;

interface JupyterKernel {
  execution_state?: string;
  last_activity?: string;
}

/**
 * The app's own word on use, beyond proxied traffic: `busy` while it computes, else when it last did.
 * Jupyter: its kernels (`/api/status`'s `last_activity` also counts the page's own polling of the API, which is
 * exactly the noise that must not keep a session alive). `no_track_activity` keeps this probe from counting.
 */
export async function appActivity(type: SessionTypeConfig, route: Route): Promise<number | 'busy' | undefined> {
  if (type.activity !== 'jupyter') return undefined;
  const prefix = type.baseUrlAware ? sessionPath(route.sid) : '/';
  const res = await fetch(new URL(`${prefix}api/kernels?no_track_activity=1`, route.target), {
    headers: { authorization: `token ${route.token}` },
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`the app's kernel list answered ${res.status}`);
  const kernels = (await res.json()) as JupyterKernel[];
  if (kernels.some((k) => k.execution_state === 'busy')) return 'busy';
  const times = kernels.map((k) => Date.parse(k.last_activity ?? '')).filter((t) => Number.isFinite(t));
  return times.length > 0 ? Math.max(...times) : undefined;
}

/** Stops sessions that are idle or too old, each announced to its owner beforehand. */
export class Culler {
  /** Sessions whose owner has been warned, until they are used again or stopped. */
  private readonly warned = new Set<string>();
  /** The app's last word on each session, so that one unanswered probe does not make a busy session idle. */
  private readonly appSeen = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly deps: CullerDeps,
    private readonly policy: CullPolicy,
  ) {}

  start(): void {
    if (this.policy.idleMs === 0 && this.policy.maxAgeMs === 0 && this.policy.warmUnusedMs === 0) return;
    this.timer = setInterval(() => {
      this.running ??= this.pass()
        .catch((err: unknown) => this.deps.logger.error({ err }, 'culling pass failed'))
        .finally(() => (this.running = undefined));
    }, this.policy.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One look at every ready session of this instance. */
  async pass(now = Date.now()): Promise<void> {
    const all = await this.deps.sessions.listAnyOwner({ instance: this.deps.instance, states: ['ready'] });
    const ready = all.filter((s) => !s.warm);
    // One that cannot be stopped now (the session-manager busy with it) holds up neither the others nor idle culling.
    for (const failed of (await Promise.allSettled(all.filter((s) => s.warm).map((session) => this.considerWarm(session, now)))).filter((r) => r.status === 'rejected')) {
      this.deps.logger.warn({ err: failed.reason }, 'could not stop a prepared session nobody launched; next pass');
    }
    const seen = await this.deps.activity.lastSeen(ready.map((s) => s.sid));
    const readySids = new Set(ready.map((s) => s.sid));
    for (const sid of [...this.warned, ...this.appSeen.keys()]) {
      if (readySids.has(sid)) continue;
      this.warned.delete(sid);
      this.appSeen.delete(sid);
    }
    await Promise.all(ready.map((session) => this.consider(session, seen.get(session.sid), now)));
  }

  /** A prepared session nobody launched in time is stopped, unannounced (its owner never saw it), unless launched meanwhile. */
  private async considerWarm(session: SessionRecord, now: number): Promise<void> {
    const { warmUnusedMs } = this.policy;
    if (warmUnusedMs === 0 || now < (session.readyAt ?? session.createdAt).getTime() + warmUnusedMs) return;
    if (await this.deps.service.pool.retire(session.sid, `prepared, not launched within ${formatDuration(warmUnusedMs)}`)) {
      this.deps.logger.info({ sid: session.sid, owner: session.owner }, 'stopped a prepared session nobody launched');
    }
  }

  private async consider(session: SessionRecord, proxied: number | undefined, now: number): Promise<void> {
    const { sid, owner } = session;
    const app = await this.probe(session, now);
    const lastActivity = Math.max((session.readyAt ?? session.createdAt).getTime(), proxied ?? 0, app ?? 0);
    const decision = decide({ createdAt: session.createdAt.getTime(), lastActivity, warned: this.warned.has(sid) }, now, this.policy);
    switch (decision.action) {
      case 'keep':
        this.warned.delete(sid);
        return;
      case 'wait':
        return;
      case 'warn':
        this.warned.add(sid);
        await this.deps.events.announce({ type: 'session.cull-warning', owner, sid, cullAt: new Date(decision.cullAt).toISOString(), reason: decision.reason, at: new Date(now).toISOString() });
        return;
      case 'cull':
        this.deps.logger.info({ sid, owner, reason: decision.reason, proxied, app }, 'culling a session');
        this.warned.delete(sid);
        await this.deps.service.stop(sid, { reason: decision.reason });
    }
  }

  /** When the app last reported use (now, while it computes); when it does not answer, what it said last. */
  private async probe(session: SessionRecord, now: number): Promise<number | undefined> {
    const type = sessionType(this.deps.types, session.type);
    if (!type || type.activity === 'none') return undefined;
    const route = await this.deps.routes.get(session.sid);
    if (!route) return undefined;
    try {
      const app = await appActivity(type, route);
      if (app === undefined) return this.appSeen.get(session.sid);
      const seen = Math.max(app === 'busy' ? now : app, this.appSeen.get(session.sid) ?? 0);
      this.appSeen.set(session.sid, seen);
      return seen;
    } catch (err) {
      this.deps.logger.warn({ err, sid: session.sid }, 'activity probe failed; going by what the app said last');
      return this.appSeen.get(session.sid);
    }
  }
}
