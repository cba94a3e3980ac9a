import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { channels, QUEUES, TypedQueue, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import {
  CreateTranscriptionFieldsSchema,
  TranscriptionIdSchema,
  TranscriptSchema,
  type Owner,
  type TranscriptFormat,
  type TranscriptionBackend,
  type TranscriptionView,
} from '@visp/contracts';
import { AppError, NotFoundError, parseOrThrow } from '@visp/service-kit';
import type { TranscriptionRecord, TranscriptionRepository } from '@visp/store';
import { CONTENT_TYPES, renderTranscript, TranscriptionFiles } from '@visp/transcription';
import { receiveUpload } from './upload';

export interface TranscriptionSettings {
  TRANSCRIPTION_DATA_DIR: string;
  TRANSCRIPTION_MAX_MIB: number;
  TRANSCRIPTION_MAX_SECONDS: number;
  TRANSCRIPTION_MAX_PENDING: number;
  TRANSCRIPTION_BACKEND: TranscriptionBackend;
  TRANSCRIPTION_ATTEMPTS: number;
  TRANSCRIPTION_BACKOFF_MS: number;
}

/** A new id in the shape of a Mongo object id: 4 bytes of time (so ids sort by age), 8 random. */
const newId = () => Buffer.concat([Buffer.from(Math.floor(Date.now() / 1000).toString(16).padStart(8, '0'), 'hex'), randomBytes(8)]).toString('hex');

/** An id from a URL or a command: malformed names nothing, so 404 like an unknown one. */
export function transcriptionIdParam(value: unknown): string {
  const parsed = TranscriptionIdSchema.safeParse(value);
  if (!parsed.success) throw new NotFoundError(`transcription ${String(value).slice(0, 40)}`);
  return parsed.data;
}

/**
 * The gateway's side of transcription: takes uploads into the data dir and the queue, and shows each user their
 * own jobs, with queue positions, cancellation and results. The same operations serve the REST API and the
 * webclient socket.
 */
export class Transcriptions {
  private readonly queue: TypedQueue<'transcriptions'>;
  private readonly files: TranscriptionFiles;

  constructor(
    private readonly deps: { transcriptions: TranscriptionRepository; redis: Redis; logger: Logger },
    private readonly settings: TranscriptionSettings,
  ) {
    this.queue = new TypedQueue(QUEUES.transcriptions, deps.redis);
    this.files = new TranscriptionFiles(settings.TRANSCRIPTION_DATA_DIR);
  }

  async create(owner: Owner, req: IncomingMessage): Promise<TranscriptionView> {
    const { transcriptions, logger } = this.deps;
    const pending = await transcriptions.countPending(owner);
    if (pending >= this.settings.TRANSCRIPTION_MAX_PENDING) {
      throw new AppError('rate_limited', `you have ${pending} transcriptions waiting or running; at most ${this.settings.TRANSCRIPTION_MAX_PENDING} at once`);
    }
    const id = newId();
    await this.files.prepare(id);
    let record: TranscriptionRecord | undefined;
    try {
      const upload = await receiveUpload(req, this.files.upload(id), { maxBytes: this.settings.TRANSCRIPTION_MAX_MIB * 1024 * 1024, maxSeconds: this.settings.TRANSCRIPTION_MAX_SECONDS });
      const fields = parseOrThrow(CreateTranscriptionFieldsSchema, upload.fields, 'form');
      const { durationSec, ...audio } = upload.audio;
      record = await transcriptions.create({
        id,
        owner,
        filename: upload.filename.slice(0, 255),
        sizeBytes: upload.sizeBytes,
        durationSec,
        audio,
        language: fields.language,
        backend: fields.backend ?? this.settings.TRANSCRIPTION_BACKEND,
        model: fields.model,
      });
      // The job id is the transcription id: adding the same job twice is a no-op.
      await this.queue.add(
        { transcriptionId: id, owner, language: record.language, backend: record.backend, model: record.model },
        { jobId: id, attempts: this.settings.TRANSCRIPTION_ATTEMPTS, backoff: { type: 'exponential', delay: this.settings.TRANSCRIPTION_BACKOFF_MS } },
      );
      logger.info({ id, owner, durationSec, sizeBytes: upload.sizeBytes }, 'transcription queued');
      return this.view(record, await this.waitingOrder());
    } catch (err) {
      if (record) await transcriptions.fail(id, { code: 'not-queued', message: 'the job could not be queued' }).catch(() => undefined);
      await this.files.remove(id);
      throw err;
    }
  }

  async list(owner: Owner): Promise<TranscriptionView[]> {
    const [records, order] = await Promise.all([this.deps.transcriptions.list(owner), this.waitingOrder()]);
    return records.map((r) => this.view(r, order));
  }

  async get(owner: Owner, id: string): Promise<TranscriptionView> {
    return this.view(await this.owned(owner, id), await this.waitingOrder());
  }

  /** Cancels a queued or running job: it leaves the queue, or its engine is killed wherever it runs. */
  async cancel(owner: Owner, id: string): Promise<TranscriptionView> {
    const outcome = await this.deps.transcriptions.cancel(owner, transcriptionIdParam(id));
    if (!outcome) throw new NotFoundError(`transcription ${id}`);
    if (!outcome.cancelled) throw new AppError('conflict', `the transcription has already ${outcome.record.state === 'cancelled' ? 'been cancelled' : outcome.record.state}`);
    // A waiting job is removed; a running one is locked by its worker, which the notice reaches instead.
    await this.queue.queue.remove(id).catch(() => 0);
    await this.deps.redis.publish(channels.transcriptionCancels, id);
    this.deps.logger.info({ id, owner }, 'transcription cancelled');
    return this.view(outcome.record, []);
  }

  async result(owner: Owner, id: string, format: TranscriptFormat): Promise<{ body: string; contentType: string; filename: string }> {
    const record = await this.owned(owner, id);
    if (record.state !== 'completed') throw new AppError('conflict', `the transcription is ${record.state}, not completed`);
    const transcript = TranscriptSchema.parse(JSON.parse(await readFile(this.files.result(record.id), 'utf8')));
    return { body: renderTranscript(transcript, format), contentType: CONTENT_TYPES[format], filename: `transcript-${record.id}.${format}` };
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  private async owned(owner: Owner, id: string): Promise<TranscriptionRecord> {
    const record = await this.deps.transcriptions.get(owner, transcriptionIdParam(id));
    if (!record) throw new NotFoundError(`transcription ${id}`);
    return record;
  }

  /** Ids of waiting jobs, next to run first. */
  private waitingOrder(): Promise<string[]> {
    return this.queue.queue.getRanges(['wait'], 0, -1, true);
  }

  private view(r: TranscriptionRecord, waiting: readonly string[]): TranscriptionView {
    const position = r.state === 'queued' ? waiting.indexOf(r.id) + 1 : 0;
    return {
      id: r.id,
      state: r.state,
      filename: r.filename,
      sizeBytes: r.sizeBytes,
      durationSec: r.durationSec,
      language: r.language,
      backend: r.backend,
      model: r.model,
      progress: r.progress,
      ...(position > 0 ? { queuePosition: position } : {}),
      attempts: r.attempts,
      error: r.error,
      createdAt: r.createdAt.toISOString(),
      startedAt: r.startedAt?.toISOString(),
      finishedAt: r.finishedAt?.toISOString(),
    };
  }
}
