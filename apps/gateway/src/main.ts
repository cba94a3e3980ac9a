import { closeRedis, createRedis } from '@visp/bus';
import { gatewayConfig, loadConfigOrExit, loggerFor } from '@visp/config';
import { bootstrap, createService, propagationHeaders, runService, serviceBasics } from '@visp/service-kit';
import { openStore } from '@visp/store';

bootstrap('gateway', async () => {
  const config = loadConfigOrExit(gatewayConfig);
  const logger = loggerFor(config);
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });
  const sessionManagerHealth = new URL('/healthz', config.SESSION_MANAGER_URL);

  const service = createService({
    ...serviceBasics(config, logger),
    readiness: {
      redis: () => redis.ping(),
      mongo: () => store.ping(),
      'session-manager': async () => {
        const res = await fetch(sessionManagerHealth, { headers: propagationHeaders() });
        if (!res.ok) throw new Error(`answered ${res.status}`);
      },
    },
    onClose: [() => store.close(), () => closeRedis(redis)],
  });
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
