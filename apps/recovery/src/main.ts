import { closeRedis, createRedis } from '@visp/bus';
import { loadConfigOrExit, loggerFor, recoveryConfig } from '@visp/config';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { bootstrap, createService, requireServiceToken, runService, serviceBasics } from '@visp/service-kit';
import { openStore } from '@visp/store';

bootstrap('recovery', async () => {
  const config = loadConfigOrExit(recoveryConfig);
  const logger = loggerFor(config);
  const podman = new PodmanClient(discoverPodman(config));
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });

  const service = createService({
    ...serviceBasics(config, logger),
    readiness: { redis: () => redis.ping(), mongo: () => store.ping(), podman: () => podman.ping() },
    routes: (app) => app.use('/admin', requireServiceToken(config.SERVICE_TOKEN)),
    onClose: [() => store.close(), () => closeRedis(redis)],
  });
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
