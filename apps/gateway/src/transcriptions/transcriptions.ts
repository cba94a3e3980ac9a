import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { channels, QUEUES, tryAcquireLock, TypedQueue, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import {
  CreateTranscriptionFieldsSchema,
  TranscriptionIdSchema,
  type Owner,
  type TranscriptFormat,
  type TranscriptionBackend,
  type TranscriptionOrigin,
  type TranscriptionView,
} from '@visp/contracts';
import { AppError, NotFoundError, parseOrThrow } from '@visp/service-kit';
import type { AudioFacts, TranscriptionRecord, TranscriptionRepository } from '@visp/store';
import { CONTENT_TYPES, renderTranscript, TranscriptionFiles, type AudioProbe } from '@visp/transcription';
import type { AccessList } from '../projects/access-list';
import { BundleJobs } from './bundle-jobs';
import { UploadReservations } from './reservations';
import { receiveUpload } from './upload';

export interface TranscriptionSettings {
  TRANSCRIPTION_DATA_DIR: string;
  TRANSCRIPTION_MAX_MIB: number;
  TRANSCRIPTION_MAX_SECONDS: number;
  TRANSCRIPTION_MAX_PENDING: number;
  TRANSCRIPTION_QUOTA_MIB: number;
  TRANSCRIPTION_MIN_FREE_MIB: number;
  TRANSCRIPTION_RETENTION: number;
  TRANSCRIPTION_BACKEND: TranscriptionBackend;
  TRANSCRIPTION_ATTEMPTS: number;
  TRANSCRIPTION_BACKOFF_MS: number;
  /** Projects' repositories, where VISP's bundles are (unset: bundles cannot be transcribed). */
  PROJECT_REPOSITORIES_DIR?: string;
}

/** What a new job was made from, once it is in the data dir and checked. */
export interface Received {
  filename: string;
  sizeBytes: number;
  audio: AudioProbe;
  language?: string;
  backend?: TranscriptionBackend;
  model?: string;
  origin?: TranscriptionOrigin;
}

/** How many bytes a new job's recording may have, and what to say when it has more (else: the size limit). */
export interface Room {
  maxBytes: number;
  tooLarge?: string;
}

export interface TranscriptionDeps {
  transcriptions: TranscriptionRepository;
  redis: Redis;
  logger: Logger;
  /** VISP's access list (ACCESS_LIST_ENABLED), checked for every new job, uploaded or of a bundle. */
  accessList: Pick<AccessList, 'require'>;
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
 * webclient socket. VISP's bundle jobs (`bundleJobs`) are admitted and rendered here too.
 */
export class Transcriptions {
  private readonly queue: TypedQueue<'transcriptions'>;
  private readonly files: TranscriptionFiles;
  private readonly reservations: UploadReservations;
  /** Projects' bundles as jobs (VISP's transcription queue): recordings read there, transcripts written back beside them. */
  readonly bundleJobs: BundleJobs;
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: TranscriptionDeps,
    private readonly settings: TranscriptionSettings,
  ) {
    this.queue = new TypedQueue(QUEUES.transcriptions, deps.redis);
    this.files = new TranscriptionFiles(settings.TRANSCRIPTION_DATA_DIR);
    this.reservations = new UploadReservations(deps.redis);
    this.bundleJobs = new BundleJobs(this, deps, settings);
  }

  async create(owner: Owner, req: IncomingMessage): Promise<TranscriptionView> {
    const record = await this.admit(owner, Number(req.headers['content-length'] ?? 0), async (destination, room) => {
      const upload = await receiveUpload(req, destination, { ...room, maxSeconds: this.settings.TRANSCRIPTION_MAX_SECONDS });
      const fields = parseOrThrow(CreateTranscriptionFieldsSchema, upload.fields, 'form');
      return { filename: upload.filename.slice(0, 255), sizeBytes: upload.sizeBytes, audio: upload.audio, language: fields.language, backend: fields.backend, model: fields.model };
    });
    return this.view(record, await this.waitingOrder());
  }

  /**
   * Admits a new job, uploaded or of a bundle (the one way in): for a user on the access list, under the owner's
   * limits (uploads still arriving count too, or many sent at once would each find the limits untouched),
   * `receive` puts its recording at `destination` in the data dir and says what it is; then the record and the
   * queued job. Anything refused or failed leaves nothing behind.
   */
  async admit(owner: Owner, declared: number, receive: (destination: string, room: Room) => Promise<Received>): Promise<TranscriptionRecord> {
    const { transcriptions, logger } = this.deps;
    await this.deps.accessList.require(owner);
    const id = newId();
    const room = await this.reservations.reserve(owner, id, async (held) => {
      const pending = (await transcriptions.countPending(owner)) + held.count;
      if (pending >= this.settings.TRANSCRIPTION_MAX_PENDING) {
        throw new AppError('rate_limited', `you have ${pending} transcriptions uploading, waiting or running; at most ${this.settings.TRANSCRIPTION_MAX_PENDING} at once`);
      }
      return this.room(owner, declared, held.bytes);
    });
    let record: TranscriptionRecord | undefined;
    try {
      await this.files.prepare(id);
      const received = await receive(this.files.upload(id), room);
      const { durationSec, ...audio } = received.audio;
      record = await transcriptions.create({
        id,
        owner,
        filename: received.filename,
        sizeBytes: received.sizeBytes,
        durationSec,
        audio: audio satisfies AudioFacts,
        language: received.language,
        backend: received.backend ?? this.settings.TRANSCRIPTION_BACKEND,
        model: received.model,
        ...(received.origin ? { origin: received.origin } : {}),
      });
      // The job id is the transcription id: adding the same job twice is a no-op.
      await this.queue.add(
        { transcriptionId: id, owner, language: record.language, backend: record.backend, model: record.model },
        { jobId: id, attempts: this.settings.TRANSCRIPTION_ATTEMPTS, backoff: { type: 'exponential', delay: this.settings.TRANSCRIPTION_BACKOFF_MS } },
      );
      logger.info({ id, owner, durationSec, sizeBytes: received.sizeBytes, ...(received.origin ? { project: received.origin.project } : {}) }, 'transcription queued');
      return record;
    } catch (err) {
      if (record) await transcriptions.fail(id, { code: 'not-queued', message: 'the job could not be queued' }).catch(() => undefined);
      await this.files.remove(id);
      throw err;
    } finally {
      // After the record exists: in between, this upload counts twice, which errs on the safe side.
      await this.reservations.release(owner, id, room.maxBytes);
    }
  }

  /**
   * How many bytes this upload may have, decided before any is read: the size limit, what is left of the owner's
   * quota, and what the disk has above its floor, whichever is least. Refused at once when that is nothing, or
   * when the declared length is already more.
   */
  private async room(owner: Owner, declared: number, uploading: number): Promise<Room> {
    const MiB = 1024 * 1024;
    const { TRANSCRIPTION_MAX_MIB, TRANSCRIPTION_QUOTA_MIB, TRANSCRIPTION_MIN_FREE_MIB, TRANSCRIPTION_DATA_DIR } = this.settings;
    const disk = await statfs(TRANSCRIPTION_DATA_DIR);
    const aboveFloor = disk.bavail * disk.bsize - TRANSCRIPTION_MIN_FREE_MIB * MiB;
    if (aboveFloor <= 0) throw new AppError('insufficient_storage', 'the server is short of disk space for recordings; try again later');
    const stored = (await this.deps.transcriptions.storedBytes(owner)) + uploading;
    const quotaLeft = TRANSCRIPTION_QUOTA_MIB * MiB - stored;
    const quotaMessage = `your recordings (stored and still uploading) use ${(stored / MiB).toFixed(1)} MiB of your ${TRANSCRIPTION_QUOTA_MIB} MiB; cancel or wait for old ones to expire`;
    if (quotaLeft <= 0) throw new AppError('payload_too_large', quotaMessage);
    const limits: Array<{ maxBytes: number; code: 'payload_too_large' | 'insufficient_storage'; tooLarge?: string }> = [
      { maxBytes: TRANSCRIPTION_MAX_MIB * MiB, code: 'payload_too_large' },
      { maxBytes: quotaLeft, code: 'payload_too_large', tooLarge: `the file does not fit: ${quotaMessage}` },
      { maxBytes: aboveFloor, code: 'insufficient_storage', tooLarge: 'the server is short of disk space for a recording this large; try again later' },
    ];
    const tightest = limits.reduce((a, b) => (b.maxBytes < a.maxBytes ? b : a));
    // The body is more than the file, by the form's few hundred bytes: only a body larger than the room plus
    // that can be refused before it is read; anything else is cut off where the room ends.
    if (tightest.tooLarge && declared > tightest.maxBytes + 64 * 1024) throw new AppError(tightest.code, tightest.tooLarge);
    // What is reserved for this upload: the body's declared length covers the file, and leaves the rest of the
    // quota to the user's other uploads.
    return { maxBytes: declared > 0 ? Math.min(tightest.maxBytes, declared) : tightest.maxBytes, tooLarge: tightest.tooLarge };
  }

  /**
   * Deletes the files of jobs that finished more than TRANSCRIPTION_RETENTION seconds ago; the records stay, so
   * their owners see what happened. `start` runs it once per period across all gateways; deleting twice is harmless.
   */
  async expire(now = Date.now()): Promise<number> {
    const ids = await this.deps.transcriptions.finishedBefore(new Date(now - this.settings.TRANSCRIPTION_RETENTION * 1000));
    for (const id of ids) await this.removeFiles(id);
    if (ids.length > 0) this.deps.logger.info({ count: ids.length }, 'deleted the files of expired transcriptions');
    return ids.length;
  }

  private async removeFiles(id: string): Promise<void> {
    await this.files.remove(id);
    await this.deps.transcriptions.filesRemoved(id);
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
    await this.deps.redis.publish(channels.transcriptionCancels(this.deps.redis), id);
    // A cancelled job's recording is not kept: the worker, if it ran the job, deletes whatever it writes after.
    await this.removeFiles(id);
    this.deps.logger.info({ id, owner }, 'transcription cancelled');
    return this.view(outcome.record, []);
  }

  async result(owner: Owner, id: string, format: TranscriptFormat): Promise<{ body: string; contentType: string; filename: string }> {
    const record = await this.owned(owner, id);
    if (record.state !== 'completed') throw new AppError('conflict', `the transcription is ${record.state}, not completed`);
    if (record.filesRemovedAt) throw new AppError('not_found', `the transcript was deleted on ${record.filesRemovedAt.toISOString().slice(0, 10)}, after the retention period`);
    return { body: (await this.render(record, [format]))[format], contentType: CONTENT_TYPES[format], filename: `transcript-${record.id}.${format}` };
  }

  /**
   * A completed job's transcript in `formats`: the one rendering of downloads and of the transcripts written
   * beside a bundle.
   */
  async render<F extends TranscriptFormat>(record: TranscriptionRecord, formats: readonly F[]): Promise<Record<F, string>> {
    const transcript = await this.files.readResult(record.id);
    // Completed, not expired, and yet no transcript: damage to the data dir, an internal error (logged, 500).
    if (!transcript) throw new Error(`transcription ${record.id} is completed, but ${this.files.result(record.id)} holds no transcript`);
    return Object.fromEntries(formats.map((format) => [format, renderTranscript(transcript, format)])) as Record<F, string>;
  }

  /**
   * Expires old jobs' files now and then: every retention period, at most an hour apart. Each gateway process
   * offers to, and one of them does it per period: the lock is left to expire, not released. (`bundleJobs` starts
   * on its own.)
   */
  async start(): Promise<void> {
    // Missing, every upload would fail (its room is measured there); unmakeable, the gateway should not start.
    await this.files.ensureRoot();
    const intervalMs = Math.min(this.settings.TRANSCRIPTION_RETENTION, 3600) * 1000;
    const run = async () => {
      if (await tryAcquireLock(this.deps.redis, 'transcription-expiry', intervalMs)) await this.expire();
    };
    const runLogged = () => void run().catch((err: unknown) => this.deps.logger.error({ err }, 'could not delete expired transcriptions'));
    this.expiry = setInterval(runLogged, intervalMs);
    this.expiry.unref();
    runLogged();
  }

  close(): Promise<void> {
    clearInterval(this.expiry);
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

  /** Ids of running jobs, then of waiting ones next to run first: a job's place among those pending. */
  pendingOrder(): Promise<string[]> {
    return this.queue.queue.getRanges(['active', 'wait'], 0, -1, true);
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
