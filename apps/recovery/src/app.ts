import { EventBus, RedisRouteTable } from '@visp/bus';
import type { RecoveryConfig } from '@visp/config';
import { createService, parseOrThrow, requireServiceToken, serviceBasics, type Service } from '@visp/service-kit';
import { SessionLeases, type SessionHostDeps } from '@visp/sessions';
import { z } from 'zod';
import { Actor } from './act';
import { Recovery } from './recovery';

/** The settings recovery acts on: the part of its parsed config (libs/config) that it reads here. */
export type RecoverySettings = Pick<
  RecoveryConfig,
  'component' | 'HOST' | 'PORT' | 'SHUTDOWN_TIMEOUT_MS' | 'SERVICE_TOKEN' | 'INSTANCE_ID' | 'RECOVERY_INTERVAL' | 'RECOVERY_DRY_RUN'
>;

const ReconcileQuerySchema = z.object({ dryRun: z.enum(['true', 'false', '1', '0']).optional() }).strict();

/** Builds the recovery service; `start()` of its Recovery begins the passes (main.ts does, tests choose). */
export function buildRecovery(settings: RecoverySettings, deps: SessionHostDeps): { service: Service; recovery: Recovery } {
  const { store, redis, runtime, logger } = deps;
  const routes = new RedisRouteTable(redis);
  const events = new EventBus(redis, logger);
  const leases = new SessionLeases(redis);
  const actor = new Actor({
    runtime,
    sessions: store.sessions,
    routes,
    events,
    leases,
    types: deps.types,
    instance: settings.INSTANCE_ID,
    logger,
  });
  const recovery = new Recovery({ runtime, sessions: store.sessions, leases, routes, redis, actor, instance: settings.INSTANCE_ID, logger }, { intervalMs: settings.RECOVERY_INTERVAL * 1000, dryRun: settings.RECOVERY_DRY_RUN });
  const service = createService({
    ...serviceBasics(settings, logger),
    readiness: { redis: () => redis.ping(), mongo: () => store.ping(), [runtime.name]: () => runtime.ping() },
    routes: (app) => {
      app.use('/admin', requireServiceToken(settings.SERVICE_TOKEN));
      /** A pass now; `?dryRun=true` (or RECOVERY_DRY_RUN) plans without acting. */
      app.post('/admin/reconcile', async (req, res) => {
        const { dryRun } = parseOrThrow(ReconcileQuerySchema, req.query, 'query');
        const report = await recovery.pass({ dryRun: dryRun === 'true' || dryRun === '1' });
        res.json(report);
      });
    },
    onClose: [() => recovery.stop(), () => events.close(), ...(deps.closeAfter ?? [])],
  });
  recovery.countIn(service.metrics);
  return { service, recovery };
}
