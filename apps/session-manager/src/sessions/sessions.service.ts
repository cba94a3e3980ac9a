import {
  ACTIVE_SESSION_STATES,
  FINAL_SESSION_STATES,
  LIVE_SESSION_STATES,
  sessionPath,
  type CapacityView,
  type CreateSessionRequest,
  type Owner,
  type ProgressStep,
  type SessionLimits,
  type SessionState,
  type SessionTypesView,
  type SessionView,
  STARTING_SESSION_STATES,
  STOP_REASONS,
} from '@visp/contracts';
import { sessionType, withinLimits, type Logger, type SessionTypes } from '@visp/config';
import type { ActivityLog, EventBus, RouteStore } from '@visp/bus';
import { AppError, NotFoundError, ValidationError } from '@visp/service-kit';
import type { SessionRecord, SessionRepository } from '@visp/store';
import { LeftTheLineError, type CapacityGate } from './capacity';
import { containerName, newSessionId, newSessionToken, type SessionLeases, type SessionRuntime, type SpawnRequest } from '@visp/sessions';
import type { OwnerLock } from './owner-lock';
import type { Spawner } from './spawner';
import { WarmPool } from './warm-pool';

export interface SessionServiceOptions {
  instance: string;
  maxPerUser: number;
  /** The warm pool: at most `max` prepared sessions at once (0: off), of these types, for each user who asks. */
  warm: { max: number; types: readonly string[] };
}

export interface SessionServiceDeps {
  sessions: SessionRepository;
  spawner: Spawner;
  /** The warm pool's: a prepared session's address and token, as its workload holds them. */
  runtime: SessionRuntime;
  routes: RouteStore;
  activity: ActivityLog;
  events: EventBus;
  types: SessionTypes;
  gate: CapacityGate;
  leases: SessionLeases;
  /** Makes counting a user's sessions and storing a new one one step (the per-user limit). */
  ownerLock: OwnerLock;
  logger: Logger;
}

const REASON_MAX = 2000;

export function toView(record: SessionRecord): SessionView {
  return {
    sid: record.sid,
    owner: record.owner,
    type: record.type,
    project: record.project,
    state: record.state,
    reason: record.reason,
    limits: record.limits,
    path: sessionPath(record.sid),
    createdAt: record.createdAt.toISOString(),
    readyAt: record.readyAt?.toISOString(),
    stoppedAt: record.stoppedAt?.toISOString(),
    history: record.history.map((h) => ({ state: h.state, at: h.at.toISOString(), reason: h.reason })),
    ...(record.warm ? { warm: true as const } : {}),
  };
}

/**
 * The session lifecycle: pending → starting → ready → stopping → stopped, or failed. Every state change is
 * stored before it is announced; starts run in parallel, limited only by the capacity gate.
 *
 * A launch takes a session prepared ahead for its owner when there is one (the warm pool, `pool`).
 */
export class SessionService {
  /** Starts in progress, so a stop can cut one short and wait for it to let go. */
  private readonly launches = new Map<string, { abort: AbortController; done: Promise<void> }>();
  /**
   * Sessions stored by `create` whose start is not registered yet, with the abort their start will take: a stop
   * in between aborts it here. Only a stop in this process can come then (anyone else needs the session's lease,
   * held from before the record until the start is over), so the start need not ask the database.
   */
  private readonly unlaunched = new Map<string, AbortController>();
  readonly pool: WarmPool;

  constructor(
    private readonly deps: SessionServiceDeps,
    private readonly options: SessionServiceOptions,
  ) {
    this.pool = new WarmPool(
      { ...deps, start: (record, token) => this.launch(record, token), stop: (sid, stop) => this.stop(sid, stop) },
      { instance: options.instance, maxPerUser: options.maxPerUser, ...options.warm },
    );
  }

  /**
   * Validates, stores the session and starts it in the background: as `starting` when the capacity gate has room
   * at once, else as `pending`, in line for it.
   */
  async create(request: CreateSessionRequest): Promise<SessionView> {
    const type = sessionType(this.deps.types, request.type);
    if (!type) {
      throw new ValidationError(`body.type: unknown session type "${request.type}" (known: ${Object.keys(this.deps.types).join(', ')})`);
    }
    const limits: SessionLimits = { ...type.limits.default, ...request.limits };
    if (!withinLimits(limits, type.limits.max)) {
      const max = type.limits.max;
      throw new ValidationError(`body.limits: above the maximum for ${request.type} (memoryMiB ${max.memoryMiB}, cpus ${max.cpus}, pids ${max.pids})`);
    }
    const launched = await this.deps.ownerLock.run(request.owner, async (stillHeld) => {
      const active = await this.deps.sessions.countActive(request.owner, ACTIVE_SESSION_STATES);
      if (active >= this.options.maxPerUser) {
        throw new AppError('conflict', `${request.owner} already has ${active} active session(s), the most allowed; stop one first`);
      }
      const warm = await this.pool.take(request, limits);
      if (warm) return { record: warm, prepared: true };
      // The lease before the record: recovery must never see this session without its owner holding it.
      const sid = newSessionId();
      if (!(await this.deps.leases.acquire(sid))) throw new AppError('unavailable', 'could not reserve the session; try again');
      // Room at once: the session is stored `starting`, a state change fewer on every launch that does not wait.
      const admitted = this.deps.gate.tryAcquire(sid);
      try {
        const created = await this.deps.sessions.create({ sid, owner: request.owner, type: request.type, project: request.project, instance: this.options.instance, limits }, admitted ? 'starting' : 'pending');
        if (await stillHeld()) {
          this.unlaunched.set(sid, new AbortController());
          return { record: created, prepared: false };
        }
        // The lock lapsed between the count and the insert: another launch may have counted without this one.
        await this.deps.sessions.transition(sid, STARTING_SESSION_STATES, 'failed', { reason: 'the launch was interrupted; try again', set: { stoppedAt: new Date() } });
        throw new AppError('unavailable', 'the launch was interrupted; try again');
      } catch (err) {
        if (admitted) this.deps.gate.release(sid);
        await this.deps.leases.release(sid);
        throw err;
      }
    });
    const { record, prepared } = launched;
    if (prepared) {
      await this.announceProgress(record, 'ready', `${record.type} is ready (prepared ahead)`);
      await this.announceState(record);
      return toView(record);
    }
    await this.announceState(record);
    this.launch(record); // keeps the lease until the start is over
    return toView(record);
  }

  async get(sid: string, owner?: Owner): Promise<SessionView> {
    const record = owner ? await this.deps.sessions.get(owner, sid) : await this.deps.sessions.getAnyOwner(sid);
    if (!record) throw new NotFoundError(`session ${sid}`);
    return toView(record);
  }

  capacity(): CapacityView {
    return { ...this.deps.gate.load, maxPerUser: this.options.maxPerUser };
  }

  sessionTypes(): SessionTypesView {
    return { types: Object.entries(this.deps.types).map(([name, type]) => ({ name, limits: type.limits })) };
  }

  async list(filter: { owner?: Owner; state?: SessionState }): Promise<SessionView[]> {
    const states = filter.state ? [filter.state] : undefined;
    const records = filter.owner ? await this.deps.sessions.list(filter.owner, states) : await this.deps.sessions.listAnyOwner({ states });
    return records.map(toView);
  }

  /**
   * Stops a session (idempotent); resolves when it is stopped and its container gone. `onlyWarm`: only if it is
   * still a prepared session (culling or preempting the pool must never stop a session its owner launched).
   */
  async stop(sid: string, options: { owner?: Owner; reason?: string; onlyWarm?: boolean } = {}): Promise<SessionView> {
    for (let attempt = 0; ; attempt++) {
      const stopped = await this.deps.leases.with(sid, () => this.stopHeld(sid, options));
      if (stopped) return stopped;
      // Recovery is acting on this session; its actions take moments.
      if (attempt === 20) throw new AppError('unavailable', 'the session is being recovered; try again shortly');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  private async stopHeld(sid: string, options: { owner?: Owner; reason?: string; onlyWarm?: boolean }): Promise<SessionView> {
    const current = options.owner ? await this.deps.sessions.get(options.owner, sid) : await this.deps.sessions.getAnyOwner(sid);
    if (!current) throw new NotFoundError(`session ${sid}`);
    if (options.onlyWarm && !current.warm) return toView(current);
    const reason = options.reason ?? STOP_REASONS['owner-asked'];
    const stopping = await this.deps.sessions.transition(sid, LIVE_SESSION_STATES, 'stopping', { reason });
    if (!stopping) {
      // Already stopping (that stop frees its slot), or over: then no slot is held for it, whoever counted one.
      const now = await this.get(sid);
      if (FINAL_SESSION_STATES.includes(now.state)) this.deps.gate.release(sid);
      return now;
    }
    this.unlaunched.get(sid)?.abort();
    await this.announceState(stopping);
    this.pool.forget(sid);
    await this.deps.routes.delete(sid);
    const launch = this.launches.get(sid);
    launch?.abort.abort();
    this.deps.gate.release(sid);
    await launch?.done;
    await this.deps.routes.delete(sid); // again: a start that was cut short may have published it meanwhile
    await this.deps.spawner.remove(stopping.type, sid).catch((err: unknown) => this.deps.logger.error({ err, sid }, 'could not remove the container'));
    await this.deps.activity.forget(sid);
    const stopped = await this.deps.sessions.transition(sid, ['stopping'], 'stopped', { reason, set: { stoppedAt: new Date() } });
    if (stopped) await this.announceState(stopped);
    return toView(stopped ?? stopping);
  }

  /** The sessions whose start is in progress here. */
  starting(): ReadonlySet<string> {
    return new Set(this.launches.keys());
  }

  /** Waits for every start in progress to finish (for shutdown and tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.launches.values()].map((l) => l.done));
  }

  /** Starts `record`'s workload in the background with `token` as its credential (a new one unless given). */
  private launch(record: SessionRecord, token = newSessionToken()): void {
    // Aborted already when a stop came before this (that stop found no start to cut short).
    const abort = this.unlaunched.get(record.sid) ?? new AbortController();
    this.unlaunched.delete(record.sid);
    const log = this.deps.logger.child({ sid: record.sid, owner: record.owner, type: record.type });
    const done = this.run(record, token, abort.signal, log)
      .catch((err: unknown) => {
        // Whatever was left (a container, a record between states) is recovery's once the lease is given back.
        log.error({ err }, 'session start crashed');
        return undefined;
      })
      .then((ready) => this.finish(record.sid, ready))
      // Redis or the database gone at the very end: nothing here may take the process down with it.
      .catch((err: unknown) => void log.error({ err }, 'could not finish the start'));
    this.launches.set(record.sid, { abort, done });
  }

  /** Gives the lease back, then announces a start that ended ready: whoever acts on `ready` (a stop, recovery) finds the session free. */
  private async finish(sid: string, ready: SessionRecord | undefined): Promise<void> {
    this.launches.delete(sid);
    if (!ready) {
      this.deps.gate.release(sid); // a start that crashed holds no capacity; release is idempotent
      this.pool.forget(sid);
    }
    await this.deps.leases.release(sid);
    // …unless a stop got in first (it announced its own state).
    if (ready && (await this.deps.sessions.getAnyOwner(sid))?.state === 'ready') {
      await this.announceProgress(ready, 'ready', `${ready.type} is ready`);
      await this.announceState(ready);
    }
  }

  /** Starts the session; returns its record if it became ready (to be announced by the caller). */
  private async run(record: SessionRecord, token: string, signal: AbortSignal, log: Logger): Promise<SessionRecord | undefined> {
    const { sid, owner } = record;
    const type = sessionType(this.deps.types, record.type);
    if (!type) throw new Error(`session type ${record.type} vanished`);
    const request: SpawnRequest = { sid, owner, typeName: record.type, type, project: record.project, limits: record.limits, createdAt: record.createdAt, token, ...(record.warm ? { warm: true as const } : {}) };
    const progress = (step: ProgressStep, message: string, queuePosition?: number) => this.announceProgress(record, step, message, queuePosition);

    // A stop before this start was registered aborted it (launch): whatever slot it was counted for is free.
    if (signal.aborted) return void this.deps.gate.release(sid);
    // Stored `starting` when it had a slot at once; else in line for one.
    if (record.state !== 'starting') {
      try {
        await this.deps.gate.acquire(sid, (position) => void progress('queued', `waiting for capacity: number ${position} in line`, position));
      } catch (err) {
        if (err instanceof LeftTheLineError) return;
        throw err;
      }
      const starting = await this.deps.sessions.transition(sid, ['pending'], 'starting');
      if (!starting) return void this.deps.gate.release(sid); // stopped while waiting
      await this.announceState(starting);
    }

    const startedAt = Date.now();
    // Set just before the write that makes the session ready: a failure after it may have won it (see fail).
    let readyWritten = false;
    try {
      await progress('preflight', 'checking the image');
      await this.deps.spawner.preflight(request);
      const started = await this.deps.spawner.createAndStart(
        request,
        (step, message) => void progress(step, message),
        signal,
      );
      if (signal.aborted) return;
      await progress('waiting-ready', `waiting for ${record.type} to answer`);
      await this.deps.spawner.waitReady(request, started, signal);
      if (signal.aborted) return;
      // The route first: whoever sees `ready` can use the session at once. A prepared one gets it when launched.
      if (!record.warm) await this.deps.routes.set({ sid, owner, target: started.target, token: request.token, stripPrefix: !type.baseUrlAware, updatedAt: new Date().toISOString() });
      readyWritten = true;
      const ready = await this.deps.sessions.transition(sid, ['starting'], 'ready', {
        set: { containerId: started.id, containerName: containerName(record.type, sid), readyAt: new Date() },
      });
      if (!ready) return void (await this.deps.routes.delete(sid)); // stopped meanwhile; stop() removes the container
      log.info({ ms: Date.now() - startedAt }, 'session ready');
      return ready;
    } catch (err) {
      if (signal.aborted) return;
      return this.fail(record, err, log, readyWritten);
    }
  }

  /**
   * Removes whatever was created, then records and announces the failure with its reason. Unless the start may have
   * won `ready` (`readyWritten`: the failure came at or after that write, which can land without its answer, and
   * which the store waits out only for short outages): then the record is settled first, and a session it calls
   * ready keeps its container and is returned as ready.
   */
  private async fail(record: SessionRecord, err: unknown, log: Logger, readyWritten: boolean): Promise<SessionRecord | undefined> {
    const { sid } = record;
    const reason = (err instanceof Error ? err.message : String(err)).slice(0, REASON_MAX);
    if (readyWritten) {
      // Should the database still not answer, this throws and the container stays: recovery settles it.
      const now = await this.deps.sessions.settle(sid);
      if (now?.state === 'ready') {
        log.warn({ reason }, 'the start was stored as ready before it failed; the session stays');
        return now;
      }
    }
    log.warn({ reason }, 'session failed to start');
    await this.deps.spawner.remove(record.type, sid).catch((removeErr: unknown) => log.error({ err: removeErr }, 'could not remove the failed container'));
    await this.deps.routes.delete(sid).catch(() => undefined);
    this.deps.gate.release(sid);
    const failed = await this.deps.sessions.transition(sid, STARTING_SESSION_STATES, 'failed', { reason, set: { stoppedAt: new Date() } });
    if (failed) await this.announceState(failed);
    return undefined;
  }

  /** Nothing about a prepared session reaches its owner until they launch it. */
  private async announceState(record: SessionRecord): Promise<void> {
    if (record.warm) return;
    await this.deps.events.announce({ type: 'session.state', owner: record.owner, sid: record.sid, state: record.state, reason: record.reason, at: new Date().toISOString() });
  }

  private async announceProgress(record: SessionRecord, step: ProgressStep, message: string, queuePosition?: number): Promise<void> {
    if (record.warm) return;
    await this.deps.events.announce({ type: 'session.progress', owner: record.owner, sid: record.sid, step, message, queuePosition, at: new Date().toISOString() });
  }
}
