import { EventBus, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import type { TranscriptionBackend } from '@visp/contracts';
import { createService, serviceBasics, type Service } from '@visp/service-kit';
import type { Store } from '@visp/store';
import { TranscriptionFiles } from '@visp/transcription';
import type { Engine } from './engines/engine';
import { FasterWhisperEngine, type FasterWhisperSettings } from './engines/faster-whisper';
import { OpenAiEngine, type OpenAiSettings } from './engines/openai';
import { SelfTest } from './self-test';
import { TranscriptionWorker, type WorkerSettings } from './transcription-worker';

export interface WhisperWorkerSettings extends FasterWhisperSettings, OpenAiSettings, WorkerSettings {
  component: string;
  HOST: string;
  PORT: number;
  SHUTDOWN_TIMEOUT_MS: number;
  TRANSCRIPTION_DATA_DIR: string;
  TRANSCRIPTION_TIMEOUT: number;
  TRANSCRIPTION_BACKENDS: TranscriptionBackend[];
}

export interface WhisperWorkerDeps {
  store: Store;
  redis: Redis;
  logger: Logger;
  closeAfter?: Array<() => Promise<unknown>>;
}

/** The worker's engines, by name: those TRANSCRIPTION_BACKENDS lists; faster-whisper keeps one warm per concurrent job. */
function enginesFor(settings: WhisperWorkerSettings): Engine[] {
  return [...new Set(settings.TRANSCRIPTION_BACKENDS)].map((name) => (name === 'openai' ? new OpenAiEngine(settings) : new FasterWhisperEngine(settings, settings.WORKER_CONCURRENCY)));
}

/** The whisper-worker: the queue worker plus /healthz, /readyz (Redis, database, worker, engine) and /metrics. */
export function buildWhisperWorker(settings: WhisperWorkerSettings, deps: WhisperWorkerDeps): { service: Service; worker: TranscriptionWorker } {
  const { store, redis, logger } = deps;
  const engines = enginesFor(settings);
  const selfTests = engines.map((engine) => [engine.name, new SelfTest(engine)] as const);
  const events = new EventBus(redis, logger);
  const service = createService({
    ...serviceBasics(settings, logger),
    readiness: {
      redis: () => redis.ping(),
      mongo: () => store.ping(),
      worker: () => worker.registered(),
      ...Object.fromEntries(selfTests.map(([name, test]) => [`engine:${name}`, () => test.check()])),
    },
    // Engines end once the worker has stopped their jobs.
    onClose: [() => worker.close().finally(() => engines.forEach((engine) => engine.close())), () => events.close(), ...(deps.closeAfter ?? [])],
  });
  const worker = new TranscriptionWorker(
    {
      transcriptions: store.transcriptions,
      files: new TranscriptionFiles(settings.TRANSCRIPTION_DATA_DIR),
      engines: new Map(engines.map((e) => [e.name, e])),
      events,
      redis,
      logger,
      timeoutSec: settings.TRANSCRIPTION_TIMEOUT,
    },
    settings,
    service.metrics,
  );
  // Started now so that the first /readyz finds the model already loaded once.
  for (const [name, test] of selfTests) test.check().catch((err: unknown) => logger.error({ err, engine: name }, 'engine self-test failed'));
  return { service, worker };
}
