import type { Worker } from 'bullmq';
import { Counter, type Registry } from 'prom-client';
import { channels, closeRedis, connectionOf, createWorker, onNotice, QUEUES, type PayloadOf, type Redis } from '@visp/bus';
import { SHUTDOWN, TranscriptionProcessor, type ProcessorDeps } from './processor';

export interface WorkerSettings {
  WORKER_CONCURRENCY: number;
  TRANSCRIPTION_LOCK_MS: number;
}

/** A job whose worker died is run again after its lock expires; twice, then it fails instead of looping. */
const MAX_STALLS = 2;

/**
 * The BullMQ worker on `transcriptions`: runs the processor with the configured concurrency, kills a job's engine
 * when its owner cancels it (a notice on Redis reaches whichever worker runs it), and on close puts running jobs
 * back in the queue instead of dropping them.
 */
export class TranscriptionWorker {
  private worker: Worker<PayloadOf<'transcriptions'>> | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private connection: Redis | undefined;
  private readonly outcomes: Counter<'outcome' | 'engine'>;

  constructor(
    private readonly deps: ProcessorDeps & { redis: Redis },
    private readonly settings: WorkerSettings,
    registry: Registry,
  ) {
    this.outcomes = new Counter({ name: 'visp_transcription_attempts_total', help: 'Transcription attempts by outcome and engine', labelNames: ['outcome', 'engine'] as const, registers: [registry] });
  }

  async start(): Promise<void> {
    const { logger } = this.deps;
    const processor = new TranscriptionProcessor(this.deps, (outcome, engine) => this.outcomes.inc({ outcome, engine }));
    this.stopListening = await onNotice(this.deps.redis, channels.transcriptionCancels(this.deps.redis), (id) => {
      if (this.worker?.cancelJob(id, 'cancelled')) logger.info({ id }, 'cancelled a running transcription');
    });
    this.connection = connectionOf(this.deps.redis, 'queue', { maxRetriesPerRequest: null });
    const worker = createWorker(QUEUES.transcriptions, (job, token, signal) => processor.process(job, token, signal), {
      connection: this.connection,
      concurrency: this.settings.WORKER_CONCURRENCY,
      lockDuration: this.settings.TRANSCRIPTION_LOCK_MS,
      stalledInterval: this.settings.TRANSCRIPTION_LOCK_MS,
      maxStalledCount: MAX_STALLS,
      name: `whisper-worker-${process.pid}`,
    });
    // Failures the processor never saw (a job stalled too often) still end the record.
    worker.on('failed', (job, err) => {
      if (!job) return;
      const record = async () => {
        if (await job.isFailed()) await this.deps.transcriptions.fail(job.data.transcriptionId, { code: 'stalled', message: err.message });
      };
      record().catch((e: unknown) => logger.warn({ err: e }, 'could not record a failure'));
    });
    worker.on('error', (err) => logger.warn({ err: err.message }, 'queue worker error'));
    this.worker = worker;
    await worker.waitUntilReady();
  }

  /** Whether this worker is connected and taking jobs (for /readyz). */
  async registered(): Promise<void> {
    if (!this.worker?.isRunning()) throw new Error('the queue worker is not running');
    if (this.worker.isPaused()) throw new Error('the queue worker is paused');
    await this.connection?.ping();
  }

  /** Stops taking jobs; running ones go back to the queue (not spending an attempt) for another worker. */
  async close(): Promise<void> {
    await this.stopListening?.();
    if (!this.worker) return;
    this.worker.cancelAllJobs(SHUTDOWN);
    await this.worker.close();
    if (this.connection) await closeRedis(this.connection);
  }
}
