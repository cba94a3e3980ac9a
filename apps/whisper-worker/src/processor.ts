import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { EventBus, PayloadOf } from '@visp/bus';
import type { Logger } from '@visp/config';
import type { Transcript, TranscriptionError, TranscriptionId, TranscriptionState } from '@visp/contracts';
import type { TranscriptionRecord, TranscriptionRepository } from '@visp/store';
import { InvalidAudioError, isEngineReady, normalizeTranscript, toEngineWav, type TranscriptionFiles } from '@visp/transcription';
import { EngineError, type Engine } from './engines/engine';

type TranscriptionJob = Job<PayloadOf<'transcriptions'>>;

/** Why a running job's signal was aborted; anything else is the owner's cancellation. */
export const SHUTDOWN = 'worker shutting down';
export const TIMED_OUT = 'timed out';

/** Progress is written (database, queue, event) at most this often per job. */
const PROGRESS_INTERVAL_MS = 1000;

export interface ProcessorDeps {
  transcriptions: TranscriptionRepository;
  files: TranscriptionFiles;
  engines: ReadonlyMap<string, Engine>;
  events: EventBus;
  logger: Logger;
  /** Seconds one attempt may take. */
  timeoutSec: number;
}

/** How an attempt ended, for the metrics. */
export type Outcome = 'completed' | 'failed' | 'retrying' | 'cancelled' | 'requeued';

/**
 * Runs one attempt of a transcription: marks it running, converts the audio when the engine cannot read it as it
 * is, runs the engine with progress, stores the result, and mirrors every step in the database and as an event
 * to the owner. A failure is final when retrying cannot help (bad audio, refused key, last attempt).
 */
export class TranscriptionProcessor {
  constructor(
    private readonly deps: ProcessorDeps,
    private readonly onOutcome: (outcome: Outcome, engine: string) => void = () => undefined,
  ) {}

  async process(job: TranscriptionJob, token: string | undefined, signal: AbortSignal): Promise<{ segments: number }> {
    const { transcriptionId: id } = job.data;
    const record = await this.deps.transcriptions.start(id, job.attemptsMade + 1);
    if (!record) {
      // An earlier attempt stored the result and then lost its process or Redis before BullMQ heard (the chaos
      // test): the job is done, and failing it would leave BullMQ's account saying otherwise than the record.
      if ((await this.deps.transcriptions.getAnyOwner(id))?.state === 'completed') {
        this.deps.logger.info({ id, attempt: job.attemptsMade + 1 }, 'completed by an earlier attempt; the job is marked done');
        return { segments: (await this.deps.files.readResult(id))?.segments.length ?? 0 };
      }
      throw new UnrecoverableError('the transcription was cancelled or has finished');
    }
    await this.announce(record, 'running');
    const engine = this.deps.engines.get(job.data.backend ?? record.backend);
    const timeout = AbortSignal.timeout(this.deps.timeoutSec * 1000);
    const work = AbortSignal.any([signal, timeout]);
    try {
      if (!engine) throw new EngineError('backend-unavailable', `this worker has no ${record.backend} backend`, false);
      // An attempt can finish its engine run and then lose the database, Redis or its process before the job is
      // marked done: the run is not paid for twice.
      let transcript = await this.deps.files.readResult(id);
      if (transcript) {
        this.deps.logger.info({ id, attempt: job.attemptsMade + 1 }, 'the result of an earlier attempt is kept; the engine does not run again');
      } else {
        transcript = await this.transcribe(record, engine, job, work);
        await this.deps.files.writeResult(id, JSON.stringify(transcript));
        // One line per result written: that a job is transcribed once, whatever fails around it, is audited by
        // counting these per id.
        this.deps.logger.info({ id, attempt: job.attemptsMade + 1, engine: engine.name }, 'transcribed');
      }
      const done = await this.deps.transcriptions.complete(id, { language: transcript.language, durationSec: transcript.duration });
      if (done) await this.announce(done, 'completed');
      // Cancelled while the engine ran: the gateway deleted the files, and this result must not stay either.
      else if ((await this.deps.transcriptions.getAnyOwner(id))?.state === 'cancelled') await this.deps.files.remove(id);
      this.onOutcome('completed', engine.name);
      return { segments: transcript.segments.length };
    } catch (err) {
      throw await this.settle(job, token, record, engine?.name ?? 'none', err, signal, timeout);
    } finally {
      await rm(this.scratch(id), { recursive: true, force: true });
      await rm(this.deps.files.engineWav(id), { force: true });
    }
  }

  private async transcribe(record: TranscriptionRecord, engine: Engine, job: TranscriptionJob, signal: AbortSignal): Promise<Transcript> {
    const { files } = this.deps;
    let wav = files.upload(record.id);
    if (!isEngineReady(record.audio)) {
      wav = files.engineWav(record.id);
      await toEngineWav(files.upload(record.id), wav, signal);
    }
    const workDir = this.scratch(record.id);
    await mkdir(workDir, { recursive: true });
    let reportedAt = 0;
    // Progress writes go one after another and are all done before the attempt's final write: a progress update
    // still in flight (one buffered through a database outage) that lands after `complete()` would put the record
    // back to `running` on FerretDB, whose conditional updates read and then write the whole document, and its
    // event would reach the owner after `completed`.
    let progressWritten = Promise.resolve();
    const onProgress = (progress: number) => {
      const now = Date.now();
      if (now - reportedAt < PROGRESS_INTERVAL_MS) return;
      reportedAt = now;
      progressWritten = progressWritten.then(() => this.reportProgress(job, record, progress));
    };
    try {
      const transcript = await engine.transcribe({ wav, durationSec: record.durationSec, language: job.data.language ?? record.language, model: job.data.model ?? record.model, workDir }, { signal, onProgress });
      return normalizeTranscript(transcript);
    } finally {
      await progressWritten;
    }
  }

  private async reportProgress(job: TranscriptionJob, record: TranscriptionRecord, progress: number): Promise<void> {
    const rounded = Math.round(progress * 1000) / 1000;
    try {
      await Promise.all([job.updateProgress(rounded), this.deps.transcriptions.progress(record.id, rounded)]);
      await this.deps.events.announce({ type: 'transcription.progress', owner: record.owner, id: record.id, progress: rounded, at: new Date().toISOString() });
    } catch (err) {
      this.deps.logger.warn({ err, id: record.id }, 'could not record progress');
    }
  }

  /**
   * Decides what a failed attempt means and mirrors it; returns the error for BullMQ. A shutdown puts the job
   * back in the queue without spending an attempt (WaitingError); a cancellation or a hopeless failure ends it
   * (UnrecoverableError); anything else is retried while attempts remain.
   */
  private async settle(job: TranscriptionJob, token: string | undefined, record: TranscriptionRecord, engine: string, err: unknown, signal: AbortSignal, timeout: AbortSignal): Promise<Error> {
    const { transcriptions, logger } = this.deps;
    const id = record.id;
    if (signal.aborted && signal.reason === SHUTDOWN) {
      await transcriptions.retrying(id, { code: 'requeued', message: 'the worker stopped; the job will run again' });
      await job.moveToWait(token);
      this.onOutcome('requeued', engine);
      return new WaitingError();
    }
    if (signal.aborted) {
      // The gateway deleted the job's files when it was cancelled; whatever this attempt wrote since goes too.
      await this.deps.files.remove(id);
      this.onOutcome('cancelled', engine);
      return new UnrecoverableError('cancelled by its owner');
    }
    const error = describe(err, timeout.aborted ? this.deps.timeoutSec : undefined);
    const retryable = (err instanceof EngineError && err.retryable) || timeout.aborted || !(err instanceof EngineError || err instanceof InvalidAudioError);
    const final = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    logger.warn({ id, attempt: job.attemptsMade + 1, final, code: error.code, err: final && !(err instanceof EngineError) ? err : undefined }, 'transcription attempt failed');
    const changed = final ? await transcriptions.fail(id, error) : await transcriptions.retrying(id, error);
    if (changed) await this.announce(changed, final ? 'failed' : 'queued');
    this.onOutcome(final ? 'failed' : 'retrying', engine);
    return final ? new UnrecoverableError(error.message) : new Error(error.message);
  }

  private async announce(record: TranscriptionRecord, state: TranscriptionState): Promise<void> {
    await this.deps.events.announce({ type: 'transcription.state', owner: record.owner, id: record.id, state, error: record.error, at: new Date().toISOString() });
  }

  private scratch(id: TranscriptionId): string {
    return path.join(this.deps.files.dir(id), 'work');
  }
}

/** The job error its owner sees. */
function describe(err: unknown, timedOutAfterSec: number | undefined): TranscriptionError {
  if (timedOutAfterSec !== undefined) return { code: 'timeout', message: `the transcription took longer than ${timedOutAfterSec} s` };
  if (err instanceof EngineError || err instanceof InvalidAudioError) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'the transcription failed unexpectedly' };
}
