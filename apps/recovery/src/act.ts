import type { EventBus, RouteStore } from '@visp/bus';
import { sessionType, type Logger, type SessionTypes } from '@visp/config';
import { ACTIVE_SESSION_STATES, FINAL_SESSION_STATES, STARTING_SESSION_STATES, type RecoveryOutcome } from '@visp/contracts';
import { NotFoundError } from '@visp/podman-client';
import { answersReadiness, type SessionLeases, type SessionRuntime, type Workload } from '@visp/sessions';
import type { SessionRecord, SessionRepository } from '@visp/store';
import type { Action } from './plan';

export interface ActDeps {
  runtime: SessionRuntime;
  sessions: SessionRepository;
  routes: RouteStore;
  events: EventBus;
  leases: SessionLeases;
  types: SessionTypes;
  instance: string;
  logger: Logger;
}


class Skip extends Error {}

const ADOPTED = 'adopted by recovery';
const INTERRUPTED = 'its start was interrupted (the session-manager stopped); start it again';

/** Carries out a plan's actions, each under its session's lease; a session someone else holds is skipped. */
export class Actor {
  constructor(private readonly deps: ActDeps) {}

  async run(action: Action): Promise<RecoveryOutcome> {
    const base = { kind: action.kind, ...(action.kind === 'report' ? { container: action.container.name } : { sid: action.sid }) };
    if (action.kind === 'report') return { ...base, result: 'skipped', detail: action.reason };
    try {
      const done = await this.deps.leases.with(action.sid, async () => (await this.perform(action)) ?? 'ok');
      if (done === undefined) return { ...base, result: 'skipped', detail: 'the session is busy (its lease is held)' };
      return { ...base, result: 'done', ...(done === 'ok' ? {} : { detail: done }) };
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return { ...base, result: err instanceof Skip ? 'skipped' : 'failed', detail };
    }
  }

  /** Returns a detail worth reporting, if any. */
  private async perform(action: Exclude<Action, { kind: 'report' }>): Promise<string | undefined> {
    const { sessions, routes, runtime } = this.deps;
    switch (action.kind) {
      case 'adopt':
        return this.adopt(action.sid, action.container, action.labels, await sessions.getAnyOwner(action.sid), action.warm);
      case 'republish-route':
        return this.adopt(action.sid, action.container, action.labels, action.record, false);
      case 'mark-lost': {
        // Looked at again under the lease: the plan may be stale by now.
        const [record, containers] = await Promise.all([sessions.getAnyOwner(action.sid), this.containersOf(action.sid)]);
        // Over meanwhile (the session-manager failed the start or finished the stop): its own reason stands.
        if (!record || !ACTIVE_SESSION_STATES.includes(record.state) || containers.length > 0) throw new Skip('changed since the plan');
        await routes.delete(action.sid);
        const set = { stoppedAt: new Date() };
        // A start that died before its container ran failed, and says so; a stop that died is over; a ready session was lost.
        const lost =
          record.state === 'pending' || record.state === 'starting'
            ? await sessions.transition(action.sid, [record.state], 'failed', { reason: INTERRUPTED, set })
            : await sessions.transition(action.sid, [record.state], 'stopped', { reason: record.state === 'stopping' ? (record.reason ?? 'stopped') : `lost${action.why ? ` (${action.why})` : ''}`, set });
        if (!lost) throw new Skip('changed since the plan');
        await runtime.removeRemains({ sid: action.sid });
        await this.announce(lost);
        return undefined;
      }
      case 'remove-container': {
        await runtime.removeRemains({ sid: action.sid, workloadId: action.container.id });
        await routes.delete(action.sid);
        const record = await sessions.getAnyOwner(action.sid);
        if (!record || record.instance !== this.deps.instance) return undefined;
        const { state, ended } = action.container;
        const reason = record.state === 'stopping' ? (record.reason ?? 'stopped') : `its container ${state === 'created' ? 'never started' : 'exited'}${ended ? ` (${ended})` : ''}`;
        const over = await sessions.transition(action.sid, ACTIVE_SESSION_STATES, 'stopped', { reason, set: { stoppedAt: new Date() } });
        if (over) await this.announce(over);
        return undefined;
      }
      case 'remove-network': {
        const record = await sessions.getAnyOwner(action.sid);
        if ((await this.containersOf(action.sid)).length > 0 || (record && STARTING_SESSION_STATES.includes(record.state))) throw new Skip('changed since the plan');
        await runtime.plumbing?.remove(action.network);
        return undefined;
      }
      case 'join-network': {
        // A container of that name that does not exist (a service down) is not recovery's to start.
        await runtime.plumbing?.join(action.network, action.container).catch((err: unknown) => Promise.reject(err instanceof NotFoundError ? new Skip(`no container ${action.container}, or no network ${action.network}`) : err));
        return undefined;
      }
      case 'drop-route': {
        const record = await sessions.getAnyOwner(action.sid);
        if (record?.state === 'ready' && !record.warm && (await this.containersOf(action.sid)).length > 0) throw new Skip('changed since the plan');
        await routes.delete(action.sid);
        return undefined;
      }
    }
  }

  /**
   * Makes a running container a ready session again: its token from its environment (never a new one, so open
   * tabs keep working), its record rebuilt from its labels if need be, its route republished once it answers.
   * A prepared session (`warm`, the warm pool) becomes one again: ready, no route, announced to nobody.
   */
  private async adopt(sid: string, container: Workload, labels: { owner: string; type: string; project?: string; created: string }, record: SessionRecord | undefined, warm: boolean): Promise<string | undefined> {
    const { runtime, sessions, routes } = this.deps;
    const type = sessionType(this.deps.types, labels.type);
    if (!type) throw new Skip(`unknown session type ${labels.type}`);
    const details = await runtime.inspect(container.id, type.port, { token: true });
    if (!details?.running) throw new Skip('no longer running');
    const { token, target } = details;
    if (!token) throw new Skip('it holds no session token');
    if (!target) throw new Skip('its app cannot be reached (no published port, or no address on its network)');
    const session = { sid, owner: labels.owner, token };
    if (!(await answersReadiness(type, session, target))) {
      // Still starting, perhaps: the next pass looks again; the session-manager's start timeout is not ours to apply.
      throw new Skip('its app does not answer yet');
    }
    // The record read under the lease decides: a launch may have taken a prepared session since the plan.
    const prepared = record ? record.warm : warm;
    if (!prepared) await routes.set({ sid, owner: labels.owner, target, token, stripPrefix: !type.baseUrlAware, updatedAt: new Date().toISOString() });
    if (record?.state === 'ready') {
      if (prepared) throw new Skip('changed since the plan');
      return 'route republished';
    }

    const now = new Date();
    const set = { containerId: details.id, containerName: details.name, readyAt: record?.readyAt ?? now, adoptedAt: now };
    const ready = record
      ? await sessions.transition(sid, [...STARTING_SESSION_STATES, ...FINAL_SESSION_STATES], 'ready', { reason: ADOPTED, set })
      : await sessions.rebuildReady({ sid, owner: labels.owner, type: labels.type, project: labels.project, instance: this.deps.instance, limits: details.limits, createdAt: new Date(labels.created), warm: prepared }, set, ADOPTED);
    if (!ready) throw new Skip('changed since the plan');
    await this.announce(ready);
    return record ? `record was ${record.state}` : 'record rebuilt from labels';
  }

  private async containersOf(sid: string): Promise<string[]> {
    return (await this.deps.runtime.list({ instance: this.deps.instance, sid })).map((c) => c.id);
  }

  /** Nothing about a prepared session (the warm pool) reaches its owner: they have not launched it. */
  private async announce(record: SessionRecord): Promise<void> {
    if (record.warm) return;
    return this.deps.events.announce({ type: 'session.state', owner: record.owner, sid: record.sid, state: record.state, reason: record.reason, at: new Date().toISOString() });
  }
}
