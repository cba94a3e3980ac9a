import { closeRedis, createRedis } from '@visp/bus';
import { loadConfigOrExit, loggerFor, whisperWorkerConfig } from '@visp/config';
import { bootstrap, runService } from '@visp/service-kit';
import { openStore } from '@visp/store';
import { buildWhisperWorker } from './app';

bootstrap('whisper-worker', async () => {
  const config = loadConfigOrExit(whisperWorkerConfig);
  const logger = loggerFor(config);
  const redis = createRedis(config.REDIS_URL, { name: config.component, logger });
  const store = await openStore(config.MONGO_URI, { logger });
  const { service, worker } = buildWhisperWorker(config, { store, redis, logger, closeAfter: [() => store.close(), () => closeRedis(redis)] });
  await worker.start();
  await runService(service, config.SHUTDOWN_TIMEOUT_MS);
});
