import { closeRedis, createRedis } from '@visp/bus';
import { exitOnConfigError, loadConfigOrExit, loadSessionTypes, loggerFor, sessionManagerConfig } from '@visp/config';
import { bootstrap, runService } from '@visp/service-kit';
import { openSessionRuntime } from '@visp/sessions';
import { openStore } from '@visp/store';
import { buildSessionManager } from './app';

bootstrap('session-manager', async () => {
  const config = loadConfigOrExit(sessionManagerConfig);
  const types = exitOnConfigError(config.component, () => loadSessionTypes(config.SESSION_TYPES_FILE));
  const logger = loggerFor(config);
  const runtime = exitOnConfigError(config.component, () => openSessionRuntime(config, logger));
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });

  const { service } = await buildSessionManager(config, { store, redis, runtime, types, logger, closeAfter: [() => store.close(), () => closeRedis(redis)] });
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
