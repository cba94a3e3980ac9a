import { ACTIVE_SESSION_STATES, type Route, type SessionLabels } from '@visp/contracts';
import { decodeSessionLabels } from '@visp/podman-client';
import type { Workload } from '@visp/sessions';
import type { SessionRecord } from '@visp/store';

/** What recovery saw in one look: the runtime, the database and the route table. */
export interface Observation {
  instance: string;
  /** Every container labelled `visp.managed=true`, any instance. */
  containers: Workload[];
  /** This instance's sessions that are not over, and the record (of any instance) of every found container and route. */
  records: SessionRecord[];
  routes: Route[];
  /** This instance's session networks, by the session they belong to, with the containers on each (network mode). */
  networks: Array<{ name: string; sid: string; members: string[] }>;
  /** The services' containers that belong on every session's network (network mode; none in local mode). */
  joiners: readonly string[];
  /** Why sessions' workloads ended, as the engine told it (`SessionRuntime.follow`), by session. */
  endedWhy?: ReadonlyMap<string, string>;
}

export type Action =
  /**
   * A running container whose record is missing, over, or stuck in a start nobody runs: make it a ready session
   * again. `warm`: it is a prepared session nobody launched (the warm pool), to be ready without a route.
   */
  | { kind: 'adopt'; sid: string; container: Workload; labels: SessionLabels; record?: SessionRecord; warm: boolean }
  /** A ready session whose route is gone. */
  | { kind: 'republish-route'; sid: string; container: Workload; labels: SessionLabels; record: SessionRecord }
  /** A session that should be running but has no container; `why` its workload ended, when the engine said. */
  | { kind: 'mark-lost'; sid: string; record: SessionRecord; why?: string }
  /** A container that is not running (exited, or created and never started): removed, its home volume kept. */
  | { kind: 'remove-container'; sid: string; container: Workload; record?: SessionRecord }
  /** A route whose session is not ready. */
  | { kind: 'drop-route'; sid: string; route: Route }
  /** A session's own network whose container is gone (a start that died between the two, a crash). */
  | { kind: 'remove-network'; sid: string; network: string }
  /** A service's container missing from a live session's network: a gateway or probe that restarted (a new container has none of the old one's networks). */
  | { kind: 'join-network'; sid: string; network: string; container: string }
  /** Left alone, and said why. */
  | { kind: 'report'; container: Workload; reason: string };

/**
 * Compares what runs with what is recorded and routed, and says what to do about each difference. Pure: the same
 * observation always gives the same plan. Acting on a session needs its lease (see act.ts), so a session the
 * session-manager is starting or stopping right now is planned for, then skipped as busy.
 */
export function plan(observed: Observation): Action[] {
  const actions: Action[] = [];
  const records = new Map(observed.records.map((r) => [r.sid, r]));
  const routes = new Map(observed.routes.map((r) => [r.sid, r]));
  const withContainer = new Set<string>();

  for (const container of observed.containers) {
    const decoded = decodeSessionLabels(container.labels);
    if (!decoded.ok) {
      actions.push({ kind: 'report', container, reason: decoded.reason });
      continue;
    }
    const labels = decoded.session;
    if (labels.instance !== observed.instance) {
      actions.push({ kind: 'report', container, reason: `belongs to instance ${labels.instance}` });
      continue;
    }
    const sid = labels.id;
    if (withContainer.has(sid)) {
      actions.push({ kind: 'report', container, reason: `a second container for session ${sid}` });
      continue;
    }
    withContainer.add(sid);
    const record = records.get(sid);
    if (record && record.owner !== labels.owner) {
      actions.push({ kind: 'report', container, reason: `labels say owner ${labels.owner}, the record says ${record.owner}` });
      continue;
    }
    if (container.state !== 'running') {
      actions.push({ kind: 'remove-container', sid, container, record });
    } else if (record?.state === 'ready') {
      // A prepared session has no route until its owner launches it.
      if (!record.warm && !routes.has(sid)) actions.push({ kind: 'republish-route', sid, container, labels, record });
    } else if (record?.state === 'stopping') {
      actions.push({ kind: 'remove-container', sid, container, record });
    } else {
      // Prepared, by its record; without one, by its label, unless a route shows it was launched since (labels stay).
      const warm = record ? record.warm : labels.warm === true && !routes.has(sid);
      actions.push({ kind: 'adopt', sid, container, labels, record, warm });
    }
  }

  // An active session should have a container; one of this instance without any is lost.
  for (const record of observed.records) {
    if (record.instance === observed.instance && ACTIVE_SESSION_STATES.includes(record.state) && !withContainer.has(record.sid)) {
      const why = observed.endedWhy?.get(record.sid);
      actions.push({ kind: 'mark-lost', sid: record.sid, record, ...(why ? { why } : {}) });
    }
  }

  // A route is dropped when nothing will serve it: no ready session of ours behind it, none being adopted, and
  // not another instance's (their recovery decides about theirs).
  const handled = new Set(actions.filter((a) => a.kind === 'adopt' || a.kind === 'mark-lost').map((a) => a.sid));
  for (const route of observed.routes) {
    const record = records.get(route.sid);
    if (handled.has(route.sid) || (record && record.instance !== observed.instance)) continue;
    if (record?.state === 'ready' && !record.warm && withContainer.has(route.sid)) continue;
    actions.push({ kind: 'drop-route', sid: route.sid, route });
  }

  // mark-lost and remove-container take the session's network with them. A network of a start in progress is
  // planned for too; acting, recovery skips it while its record is pending or starting (act.ts).
  const removing = new Set(actions.filter((a) => a.kind === 'mark-lost' || a.kind === 'remove-container').map((a) => a.sid));
  for (const network of observed.networks) {
    if (!withContainer.has(network.sid)) {
      if (!removing.has(network.sid)) actions.push({ kind: 'remove-network', sid: network.sid, network: network.name });
    } else if (!removing.has(network.sid)) {
      for (const joiner of observed.joiners) {
        if (!network.members.includes(joiner)) actions.push({ kind: 'join-network', sid: network.sid, network: network.name, container: joiner });
      }
    }
  }
  return actions;
}
