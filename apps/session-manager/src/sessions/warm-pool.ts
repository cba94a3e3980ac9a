import { ACTIVE_SESSION_STATES, FINAL_SESSION_STATES, LIVE_SESSION_STATES, type CreateSessionRequest, type Owner, type PrepareSessionsView, type SessionLimits, type SessionView } from '@visp/contracts';
import { sessionType, type Logger, type SessionTypes } from '@visp/config';
import type { RouteStore } from '@visp/bus';
import type { SessionRecord, SessionRepository } from '@visp/store';
import { newSessionId, newSessionToken, type SessionLeases, type SessionRuntime } from '@visp/sessions';
import type { CapacityGate } from './capacity';
import type { OwnerLock } from './owner-lock';

export interface WarmPoolOptions {
  instance: string;
  maxPerUser: number;
  /** At most `max` prepared sessions at once (0: off), of these types, for each user who asks. */
  max: number;
  types: readonly string[];
}

export interface WarmPoolDeps {
  sessions: SessionRepository;
  /** Read only to launch a prepared session: its address and token, as its workload holds them. */
  runtime: SessionRuntime;
  routes: RouteStore;
  types: SessionTypes;
  gate: CapacityGate;
  leases: SessionLeases;
  ownerLock: OwnerLock;
  logger: Logger;
  /** The lifecycle's own start and stop (SessionService): a prepared session is a session like any other. */
  start: (record: SessionRecord, token: string) => void;
  stop: (sid: string, options: { reason: string; onlyWarm: true }) => Promise<SessionView>;
}

const LAUNCHED_WARM = 'launched from a session prepared ahead';
/** `launch`'s answer for a prepared session it found unusable and is stopping: its stop frees its slot. */
const STOPPING = Symbol('stopping');
/** Why a prepared session was stopped to let a launch in: its owner never sees it, the logs do. */
const GAVE_WAY = 'prepared, and its place was needed for a launch';

const sameLimits = (a: SessionLimits, b: SessionLimits) => a.memoryMiB === b.memoryMiB && a.cpus === b.cpus && a.pids === b.pids;

/**
 * The warm pool (off unless `max` > 0): sessions started for a user before they ask, marked `warm`. Each goes
 * through the session lifecycle like any other, but has no route, is announced to nobody, is in no owner's list
 * and outside their limit, and holds its capacity preemptibly. The owner's next launch of its type (no project,
 * default limits) takes it: it stops being warm, gets its route, and is ready at once.
 *
 * A started container cannot get a volume afterwards, so each is prepared for one user, with their home: nothing
 * is shared between users.
 */
export class WarmPool {
  /**
   * The token each session prepared by this process was started with, for its route at launch. Read back from the
   * workload only for one prepared before a restart: on Kubernetes the session-manager may not read Secrets
   * (deploy/kubernetes/rbac.yaml), so such a session is stopped at its owner's first launch, which starts anew.
   */
  private readonly tokens = new Map<string, string>();
  /** Prepared sessions being stored, not yet counted by the gate as prepared: two owners' `prepare` at once must not pass `max` together. */
  private storing = 0;

  constructor(
    private readonly deps: WarmPoolDeps,
    private readonly options: WarmPoolOptions,
  ) {}

  /**
   * Prepares the sessions `owner` may launch next, one of each warm type they have none of, while the pool and
   * the capacity have room and the owner is below their limit (a prepared session at the limit could not be
   * launched). Never waits for capacity. Returns at once; the starts go on behind.
   */
  async prepare(owner: Owner): Promise<PrepareSessionsView> {
    const { max, types, maxPerUser, instance } = this.options;
    if (max === 0) return { preparing: [] };
    const started = await this.deps.ownerLock.run(owner, async () => {
      if ((await this.deps.sessions.countActive(owner, ACTIVE_SESSION_STATES)) >= maxPerUser) return [];
      const have = new Set((await this.deps.sessions.listWarm(owner, LIVE_SESSION_STATES)).map((s) => s.type));
      const records: SessionRecord[] = [];
      // Tokens of sessions that are over (a start that failed, one recovery ended) are of no use any more.
      const held = new Set(this.deps.gate.held());
      for (const sid of this.tokens.keys()) if (!held.has(sid)) this.tokens.delete(sid);
      for (const typeName of types.filter((t) => !have.has(t))) {
        const type = sessionType(this.deps.types, typeName);
        const sid = newSessionId();
        // Not preemptible until its start is under way: a stop before that would find nothing to stop.
        if (!type || this.deps.gate.load.warm + this.storing >= max || !this.deps.gate.tryAcquire(sid)) break;
        this.storing++;
        try {
          if (!(await this.deps.leases.acquire(sid))) throw new Error('could not reserve the session');
          records.push(await this.deps.sessions.create({ sid, owner, type: typeName, instance, limits: type.limits.default, warm: true }, 'starting'));
        } catch (err) {
          this.deps.gate.release(sid);
          await this.deps.leases.release(sid);
          throw err;
        } finally {
          this.storing--;
        }
        // At once, each: one that fails later leaves those before it started, not stranded under their lease.
        const token = newSessionToken();
        this.tokens.set(sid, token);
        this.deps.start(records.at(-1) as SessionRecord, token);
        this.deps.gate.reserve(sid, { preemptible: true });
      }
      return records;
    });
    if (started.length > 0) this.deps.logger.info({ owner, sids: started.map((r) => r.sid) }, 'preparing sessions ahead');
    return { preparing: started.map((r) => ({ sid: r.sid, type: r.type })) };
  }

  /**
   * Launches one of the owner's prepared sessions that fits the request, if any: no longer warm, readiness reset
   * (idle culling counts from now), its route set from what its workload holds. Runs under the owner's lock.
   */
  async take(request: CreateSessionRequest, limits: SessionLimits): Promise<SessionRecord | undefined> {
    if (this.options.max === 0 || request.project !== undefined) return undefined;
    for (const candidate of await this.deps.sessions.listWarm(request.owner, ['ready'])) {
      if (candidate.type !== request.type || !sameLimits(candidate.limits, limits)) continue;
      // Refused when it is being stopped already (for a launch that waits, or by the culler).
      if (!this.deps.gate.keep(candidate.sid)) continue;
      // Whatever goes wrong here, the launch goes on as a new session.
      const taken = await this.deps.leases.with(candidate.sid, () => this.launch(candidate.sid)).catch((err: unknown) => void this.deps.logger.warn({ err, sid: candidate.sid }, 'could not launch a prepared session; starting a new one'));
      if (taken === STOPPING) continue;
      if (taken) return taken;
      // Not taken (recovery holds it, or its workload is gone): back to the pool if it is still a live prepared
      // session, or cannot be read now (the culler stops it in time); its slot freed if it is over (a stop that
      // ended it meanwhile may have freed it already).
      const now = await this.deps.sessions.getAnyOwner(candidate.sid).catch(() => 'unknown' as const);
      if (now === 'unknown' || (now?.warm && LIVE_SESSION_STATES.includes(now.state))) this.deps.gate.reserve(candidate.sid, { preemptible: true });
      else if (!now || FINAL_SESSION_STATES.includes(now.state)) this.deps.gate.release(candidate.sid);
    }
    return undefined;
  }

  /** The gate's call: a launch waits, so this prepared session gives up its place (the gate marked it given up). */
  giveWay(sid: string): void {
    void this.deps.stop(sid, { reason: GAVE_WAY, onlyWarm: true }).catch((err: unknown) => {
      // Not stopped: it may be chosen again, by the next request that waits or by the culler.
      this.deps.gate.stillHeld(sid);
      this.deps.logger.error({ err, sid }, 'could not stop a prepared session to make room');
    });
  }

  /**
   * Stops a prepared session nobody launched (the culler), unless a launch has kept it: the gate decides which of
   * the two gets it, in one synchronous step. Resolves false when it was not stopped.
   */
  async retire(sid: string, reason: string): Promise<boolean> {
    if (!this.deps.gate.giveUp(sid)) return false;
    try {
      return (await this.deps.stop(sid, { reason, onlyWarm: true })).state === 'stopped';
    } catch (err) {
      this.deps.gate.stillHeld(sid); // for the culler's next pass
      throw err;
    }
  }

  /** A session that is over (stopped, or its start failed) will never be launched: its token goes. */
  forget(sid: string): void {
    this.tokens.delete(sid);
  }

  /** Under the session's lease. The record first: should this stop halfway, recovery republishes the route of a ready session. */
  private async launch(sid: string): Promise<SessionRecord | typeof STOPPING | undefined> {
    const record = await this.deps.sessions.getAnyOwner(sid);
    const type = record && sessionType(this.deps.types, record.type);
    if (!record?.warm || record.state !== 'ready' || !record.containerId || !type) return undefined;
    const known = this.tokens.get(sid);
    // One prepared before a restart has its token read back, which Kubernetes refuses (a 403 on its Secret): it
    // would be tried, and kept, at every launch until culled unused, and the owner prepared no other meanwhile.
    const details = await this.deps.runtime.inspect(record.containerId, type.port, { token: known === undefined }).catch((err: unknown) => {
      // With its token known, a failed read is a moment's trouble: the launch starts anew, and this one stays.
      if (known !== undefined) throw err;
      this.deps.logger.warn({ err, sid }, 'could not read the token of a session prepared before a restart');
    });
    const token = known ?? details?.token;
    if (!details?.running || !details.target || !token) {
      this.deps.logger.warn({ sid }, 'a prepared session cannot be launched (its workload is gone, unreachable or its token unreadable); stopping it');
      // Its slot stays held (kept by `take`) until this stop, which waits for the lease `take` holds, frees it. Not
      // stopped, it holds its slot preemptibly again, as a prepared session: the culler's to stop in time.
      void this.deps.stop(sid, { reason: 'prepared, but its workload could not be reached', onlyWarm: true }).catch(() => this.deps.gate.reserve(sid, { preemptible: true }));
      return STOPPING;
    }
    const now = new Date();
    const taken = await this.deps.sessions.transition(sid, ['ready'], 'ready', { reason: LAUNCHED_WARM, set: { warm: false, readyAt: now } });
    if (!taken) return undefined;
    this.tokens.delete(sid);
    await this.deps.routes.set({ sid, owner: record.owner, target: details.target, token, stripPrefix: !type.baseUrlAware, updatedAt: now.toISOString() });
    return taken;
  }
}
