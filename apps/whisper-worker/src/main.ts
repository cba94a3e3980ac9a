import { closeRedis, createRedis } from '@visp/bus';
import { loadConfigOrExit, loggerFor, whisperWorkerConfig } from '@visp/config';
import { bootstrap, createService, runService, serviceBasics } from '@visp/service-kit';
import { openStore } from '@visp/store';

bootstrap('whisper-worker', async () => {
  const config = loadConfigOrExit(whisperWorkerConfig);
  const logger = loggerFor(config);
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });

  const service = createService({
    ...serviceBasics(config, logger),
    readiness: { redis: () => redis.ping(), mongo: () => store.ping() },
    onClose: [() => store.close(), () => closeRedis(redis)],
  });
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
