import { existsSync } from 'node:fs';
import { ActivityLog, EventBus, RedisRouteTable } from '@visp/bus';
import { ConfigError, sessionType, type SessionManagerConfig } from '@visp/config';
import { ACTIVE_SESSION_STATES } from '@visp/contracts';
import { createService, serviceBasics, requireServiceToken, type Service } from '@visp/service-kit';
import { SessionLeases, type SessionHostDeps } from '@visp/sessions';
import { CapacityGate } from './sessions/capacity';
import { CapacityAudit } from './sessions/capacity-audit';
import { Culler } from './sessions/culling';
import { OwnerLock } from './sessions/owner-lock';
import { sessionRoutes } from './sessions/sessions.routes';
import { SessionService } from './sessions/sessions.service';
import { Spawner } from './sessions/spawner';

/** The settings the session-manager acts on: the part of its parsed config (libs/config) that it reads here. */
export type SessionManagerSettings = Pick<
  SessionManagerConfig,
  | 'component'
  | 'HOST'
  | 'PORT'
  | 'SHUTDOWN_TIMEOUT_MS'
  | 'INSTANCE_ID'
  | 'SERVICE_TOKEN'
  | 'SESSION_RUNTIME'
  | 'SESSION_MODE'
  | 'SESSION_GUARD_BINARY'
  | 'SESSION_START_TIMEOUT'
  | 'MAX_SESSIONS_PER_USER'
  | 'MAX_SESSIONS_TOTAL'
  | 'IDLE_TIMEOUT'
  | 'MAX_SESSION_AGE'
  | 'CULL_INTERVAL'
  | 'CULL_WARNING'
  | 'WARM_SESSIONS'
  | 'WARM_SESSION_TYPES'
  | 'WARM_UNUSED_TIMEOUT'
>;

export interface SessionManager {
  service: Service;
  sessions: SessionService;
  culler: Culler;
  audit: CapacityAudit;
}

/** Builds the service from its dependencies; main.ts opens them, tests pass real ones of their own. */
export async function buildSessionManager(settings: SessionManagerSettings, deps: SessionHostDeps): Promise<SessionManager> {
  // Refused at start rather than at the first session: no local-mode session may run without its guard.
  if (settings.SESSION_RUNTIME === 'podman' && settings.SESSION_MODE === 'local' && !(settings.SESSION_GUARD_BINARY && existsSync(settings.SESSION_GUARD_BINARY))) {
    throw new ConfigError(`SESSION_GUARD_BINARY must name the session guard's binary in local mode (${settings.SESSION_GUARD_BINARY ?? 'not set'}): tools/setup/bootstrap.sh builds it`);
  }
  const unknownWarm = settings.WARM_SESSIONS > 0 ? settings.WARM_SESSION_TYPES.filter((name) => !sessionType(deps.types, name)) : [];
  if (unknownWarm.length > 0) throw new ConfigError(`WARM_SESSION_TYPES names unknown session types: ${unknownWarm.join(', ')} (known: ${Object.keys(deps.types).join(', ')})`);
  const { store, redis, runtime, logger } = deps;
  const events = new EventBus(redis, logger);
  // A prepared session the gate asks to give way is stopped by the service; a request that waits has the slots
  // checked against the store (the audit). Both built below.
  const gate: CapacityGate = new CapacityGate(settings.MAX_SESSIONS_TOTAL, { preempt: (sid) => sessions.pool.giveWay(sid), crowded: (): Promise<void> => audit.soon() });
  // Sessions this instance already runs hold their capacity across a restart (pending ones are still in line for
  // it), prepared ones preemptibly (not one being stopped: that stop frees it).
  const holding = ACTIVE_SESSION_STATES.filter((state) => state !== 'pending');
  for (const running of await store.sessions.listAnyOwner({ instance: settings.INSTANCE_ID, states: holding })) gate.reserve(running.sid, { preemptible: running.warm && running.state !== 'stopping' });

  const spawner = new Spawner(runtime, { startTimeoutMs: settings.SESSION_START_TIMEOUT * 1000 }, logger.child({ part: 'spawner' }));
  const routes = new RedisRouteTable(redis);
  const activity = new ActivityLog(redis);
  const sessions = new SessionService(
    { sessions: store.sessions, spawner, runtime, routes, activity, events, types: deps.types, gate, leases: new SessionLeases(redis), ownerLock: new OwnerLock(redis), logger },
    { instance: settings.INSTANCE_ID, maxPerUser: settings.MAX_SESSIONS_PER_USER, warm: { max: settings.WARM_SESSIONS, types: settings.WARM_SESSION_TYPES } },
  );
  const audit = new CapacityAudit({ gate, sessions: store.sessions, instance: settings.INSTANCE_ID, starting: () => sessions.starting(), logger: logger.child({ part: 'capacity' }) }, settings.WARM_SESSIONS);
  audit.start();
  const culler = new Culler(
    { sessions: store.sessions, service: sessions, activity, routes, events, types: deps.types, instance: settings.INSTANCE_ID, logger: logger.child({ part: 'culler' }) },
    {
      idleMs: settings.IDLE_TIMEOUT * 1000,
      maxAgeMs: settings.MAX_SESSION_AGE * 1000,
      warningMs: settings.CULL_WARNING * 1000,
      intervalMs: settings.CULL_INTERVAL * 1000,
      warmUnusedMs: settings.WARM_SESSIONS > 0 ? settings.WARM_UNUSED_TIMEOUT * 1000 : 0,
    },
  );
  culler.start();

  const service = createService({
    ...serviceBasics(settings, logger),
    readiness: { redis: () => redis.ping(), mongo: () => store.ping(), [runtime.name]: () => runtime.ping() },
    routes: (app) => {
      app.use('/api', requireServiceToken(settings.SERVICE_TOKEN));
      sessionRoutes(app, sessions, events);
    },
    onClose: [() => culler.stop(), () => audit.stop(), () => sessions.settled(), () => events.close(), ...(deps.closeAfter ?? [])],
  });
  return { service, sessions, culler, audit };
}
