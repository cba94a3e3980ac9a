import { Schema, type Connection, type InferSchemaType, type Model } from 'mongoose';
import {
  FINISHED_TRANSCRIPTION_STATES,
  PENDING_TRANSCRIPTION_STATES,
  TranscriptionStateSchema,
  type Owner,
  type TranscriptionBackend,
  type TranscriptionError,
  type TranscriptionId,
  type TranscriptionOrigin,
  type TranscriptionState,
} from '@visp/contracts';

const errorSchema = new Schema({ code: { type: String, required: true }, message: { type: String, required: true } }, { _id: false });

/** The audio as probed at upload: what the worker needs to decide whether it must convert it. */
const audioSchema = new Schema(
  { codec: { type: String, required: true }, sampleRate: { type: Number, required: true }, channels: { type: Number, required: true } },
  { _id: false },
);

/** A job of a project's bundle (VISP's transcription queue): where its recording is, and its results go. */
const originSchema = new Schema(
  {
    project: { type: String, required: true },
    session: { type: String, required: true },
    bundle: { type: String, required: true },
    language: { type: String },
    model: { type: String },
    /** When the transcript was written beside the bundle (once; see the gateway's bundle write-back). */
    writtenBackAt: { type: Date },
    /** When writing it back was given up: the bundle's directory was gone (the queue's polls no longer retry it). */
    writeBackFailedAt: { type: Date },
    /** When a finished job was taken off the project's queue (VISP deleted such items); it stays its owner's. */
    removedAt: { type: Date },
  },
  { _id: false },
);

/** Keyed by `_id` = the transcription id, so the worker's updates are primary-key writes (see sessions). */
const transcriptionSchema = new Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true, index: true },
    state: { type: String, enum: TranscriptionStateSchema.options, required: true },
    filename: { type: String, required: true },
    sizeBytes: { type: Number, required: true },
    durationSec: { type: Number, required: true },
    audio: { type: audioSchema, required: true },
    language: { type: String },
    backend: { type: String, required: true },
    model: { type: String },
    progress: { type: Number, required: true, default: 0 },
    attempts: { type: Number, required: true, default: 0 },
    error: { type: errorSchema },
    startedAt: { type: Date },
    finishedAt: { type: Date },
    /** When its files (upload, transcript) were deleted: cancelled, or kept past the retention period. */
    filesRemovedAt: { type: Date },
    /** Set for a project bundle's job; absent for uploads. */
    origin: { type: originSchema },
  },
  { timestamps: true, collection: 'transcriptions', versionKey: false },
);
// A project's queue is listed by project (VISP's client polls it every 5 s).
transcriptionSchema.index({ 'origin.project': 1 });
type TranscriptionDocument = InferSchemaType<typeof transcriptionSchema> & { createdAt: Date; updatedAt: Date };

export interface AudioFacts {
  codec: string;
  sampleRate: number;
  channels: number;
}

export interface NewTranscription {
  id: TranscriptionId;
  owner: Owner;
  filename: string;
  sizeBytes: number;
  durationSec: number;
  audio: AudioFacts;
  language?: string;
  backend: TranscriptionBackend;
  model?: string;
  /** The project bundle the recording was copied from, for VISP's transcription queue. */
  origin?: TranscriptionOrigin;
}

export interface TranscriptionRecord extends NewTranscription {
  state: TranscriptionState;
  progress: number;
  attempts: number;
  error?: TranscriptionError;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  filesRemovedAt?: Date;
  /** When a bundle job's transcript was written beside the bundle. */
  writtenBackAt?: Date;
  /** When writing a bundle job's transcript back was given up (its bundle's directory was gone). */
  writeBackFailedAt?: Date;
  /** When a finished bundle job was taken off its project's queue. */
  removedFromQueueAt?: Date;
}

function toRecord(doc: TranscriptionDocument): TranscriptionRecord {
  const optional = <T>(v: T | null | undefined) => v ?? undefined;
  return {
    id: doc._id,
    owner: doc.owner,
    state: doc.state as TranscriptionState,
    filename: doc.filename,
    sizeBytes: doc.sizeBytes,
    durationSec: doc.durationSec,
    audio: { codec: doc.audio.codec, sampleRate: doc.audio.sampleRate, channels: doc.audio.channels },
    language: optional(doc.language),
    backend: doc.backend as TranscriptionBackend,
    model: optional(doc.model),
    progress: doc.progress,
    attempts: doc.attempts,
    error: doc.error ? { code: doc.error.code, message: doc.error.message } : undefined,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    startedAt: optional(doc.startedAt),
    finishedAt: optional(doc.finishedAt),
    filesRemovedAt: optional(doc.filesRemovedAt),
    ...(doc.origin
      ? {
          origin: { project: doc.origin.project, session: doc.origin.session, bundle: doc.origin.bundle, ...(doc.origin.language ? { language: doc.origin.language } : {}), ...(doc.origin.model ? { model: doc.origin.model } : {}) },
          writtenBackAt: optional(doc.origin.writtenBackAt),
          writeBackFailedAt: optional(doc.origin.writeBackFailedAt),
          removedFromQueueAt: optional(doc.origin.removedAt),
        }
      : {}),
  };
}

const PENDING = { $in: [...PENDING_TRANSCRIPTION_STATES] };

/**
 * Transcription jobs as users see them; BullMQ holds the queue, this holds the truth that outlives it. Every
 * change is conditional on the state it leaves, so a cancelled job is never revived by a worker that was slow
 * to notice, and a finished one never changes again.
 */
export class TranscriptionRepository {
  private readonly model: Model<TranscriptionDocument>;

  constructor(connection: Connection) {
    this.model = connection.model<TranscriptionDocument>('Transcription', transcriptionSchema);
  }

  async create(t: NewTranscription): Promise<TranscriptionRecord> {
    const { id, ...fields } = t;
    const doc = await this.model.create({ _id: id, ...fields, state: 'queued' });
    return toRecord(doc.toObject() as TranscriptionDocument);
  }

  /** The owner's job, or undefined when there is none or it is someone else's. */
  async get(owner: Owner, id: TranscriptionId): Promise<TranscriptionRecord | undefined> {
    const record = await this.getAnyOwner(id);
    return record?.owner === owner ? record : undefined;
  }

  async getAnyOwner(id: TranscriptionId): Promise<TranscriptionRecord | undefined> {
    const doc = await this.model.findById(id).lean<TranscriptionDocument>();
    return doc ? toRecord(doc) : undefined;
  }

  /** Newest first. */
  async list(owner: Owner, limit = 200): Promise<TranscriptionRecord[]> {
    const docs = await this.model.find({ owner }).sort({ createdAt: -1 }).limit(limit).lean<TranscriptionDocument[]>();
    return docs.map(toRecord);
  }

  /**
   * A project's bundle jobs (anyone's: the project's working members share its queue), newest first. Access to the
   * project is the caller's to check.
   */
  async listByProject(project: string, limit = 2000): Promise<TranscriptionRecord[]> {
    const docs = await this.model.find({ 'origin.project': project }).sort({ createdAt: -1 }).limit(limit).lean<TranscriptionDocument[]>();
    return docs.map(toRecord);
  }

  /**
   * A bundle's job as its project's queue shows it: the newest not cancelled and not taken off the queue (as
   * `listByProject`'s first of the bundle, read alone).
   */
  async newestForBundle(project: string, session: string, bundle: string): Promise<TranscriptionRecord | undefined> {
    const doc = await this.model
      .findOne({ 'origin.project': project, 'origin.session': session, 'origin.bundle': bundle, state: { $ne: 'cancelled' }, 'origin.removedAt': { $exists: false } })
      .sort({ createdAt: -1 })
      .lean<TranscriptionDocument>();
    return doc ? toRecord(doc) : undefined;
  }

  /** Records that writing a bundle job's transcript back was given up (its bundle is gone). */
  async writeBackFailed(id: TranscriptionId, at = new Date()): Promise<void> {
    await this.model.updateOne({ _id: id, origin: { $exists: true } }, { $set: { 'origin.writeBackFailedAt': at } });
  }

  /** Records that a bundle job's transcript is beside its bundle. */
  async writtenBack(id: TranscriptionId, at = new Date()): Promise<void> {
    await this.model.updateOne({ _id: id, origin: { $exists: true } }, { $set: { 'origin.writtenBackAt': at } });
  }

  /** Takes a finished bundle job off its project's queue. */
  async removedFromQueue(id: TranscriptionId, at = new Date()): Promise<void> {
    await this.model.updateOne({ _id: id, origin: { $exists: true } }, { $set: { 'origin.removedAt': at } });
  }

  /** Bytes of `owner`'s uploads whose files are still stored (what counts against their quota). */
  async storedBytes(owner: Owner): Promise<number> {
    // Summed here rather than with $group: the same on FerretDB, and a user's jobs are few.
    const docs = await this.model.find({ owner, filesRemovedAt: { $exists: false } }, { sizeBytes: 1 }).lean<Array<{ sizeBytes: number }>>();
    return docs.reduce((sum, doc) => sum + doc.sizeBytes, 0);
  }

  /** Finished jobs (any owner) whose files are still stored and that finished before `before`, oldest first. */
  async finishedBefore(before: Date, limit = 500): Promise<TranscriptionId[]> {
    const docs = await this.model
      .find({ state: { $in: [...FINISHED_TRANSCRIPTION_STATES] }, finishedAt: { $lt: before }, filesRemovedAt: { $exists: false } }, { _id: 1 })
      .sort({ finishedAt: 1 })
      .limit(limit)
      .lean<Array<{ _id: string }>>();
    return docs.map((d) => d._id);
  }

  /** Records that the job's files are gone; it stays listed, without a result. */
  async filesRemoved(id: TranscriptionId, at = new Date()): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { filesRemovedAt: at } });
  }

  async countPending(owner: Owner): Promise<number> {
    return this.model.countDocuments({ owner, state: PENDING });
  }

  /** A worker takes the job for attempt `attempt`; undefined when it was cancelled or has finished meanwhile. */
  async start(id: TranscriptionId, attempt: number, at = new Date()): Promise<TranscriptionRecord | undefined> {
    return this.change(id, PENDING, { $set: { state: 'running', attempts: attempt, startedAt: at, progress: 0 }, $unset: { error: 1 } });
  }

  async progress(id: TranscriptionId, progress: number): Promise<void> {
    await this.model.updateOne({ _id: id, state: 'running' }, { $set: { progress } });
  }

  /** An attempt failed and another will follow: back to queued, with the reason shown meanwhile. */
  async retrying(id: TranscriptionId, error: TranscriptionError): Promise<TranscriptionRecord | undefined> {
    return this.change(id, 'running', { $set: { state: 'queued', error, progress: 0 } });
  }

  async complete(id: TranscriptionId, result: { language: string; durationSec: number }, at = new Date()): Promise<TranscriptionRecord | undefined> {
    return this.change(id, 'running', { $set: { state: 'completed', progress: 1, finishedAt: at, ...result }, $unset: { error: 1 } });
  }

  async fail(id: TranscriptionId, error: TranscriptionError, at = new Date()): Promise<TranscriptionRecord | undefined> {
    return this.change(id, PENDING, { $set: { state: 'failed', error, finishedAt: at } });
  }

  /** Cancels the owner's job if it is still pending; undefined when there is no such job of theirs. */
  async cancel(owner: Owner, id: TranscriptionId, at = new Date()): Promise<{ record: TranscriptionRecord; cancelled: boolean } | undefined> {
    const current = await this.get(owner, id);
    if (!current) return undefined;
    const changed = await this.change(id, PENDING, { $set: { state: 'cancelled', finishedAt: at } });
    return changed ? { record: changed, cancelled: true } : { record: (await this.getAnyOwner(id)) ?? current, cancelled: false };
  }

  async ensureIndexes(): Promise<void> {
    await this.model.createIndexes();
  }

  private async change(id: TranscriptionId, from: TranscriptionState | typeof PENDING, update: object): Promise<TranscriptionRecord | undefined> {
    const doc = await this.model.findOneAndUpdate({ _id: id, state: from }, update, { returnDocument: 'after' }).lean<TranscriptionDocument>();
    return doc ? toRecord(doc) : undefined;
  }
}
