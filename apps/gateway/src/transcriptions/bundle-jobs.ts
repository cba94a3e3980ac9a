import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { claim, keys, type Claim, type EventBus, type Redis } from '@visp/bus';
import type { Logger } from '@visp/config';
import { PENDING_TRANSCRIPTION_STATES, type Owner, type TranscriptionBackend, type TranscriptionOrigin, type TranscriptionState } from '@visp/contracts';
import { AppError } from '@visp/service-kit';
import type { TranscriptionRecord, TranscriptionRepository } from '@visp/store';
import { ProjectBundles, type BundleRef } from './bundles';
import type { Transcriptions, TranscriptionSettings } from './transcriptions';
import { checkAudio } from './upload';

/** A bundle job as its project's queue shows it: the record, and its place among jobs waiting or running (-1: none). */
export interface BundleJob {
  record: TranscriptionRecord;
  queueIndex: number;
}

/**
 * Queueing one bundle: its claim lasts `ttlMs` past the holder's last sign of life (renewed every third of it while
 * the recording is copied and probed, however long that takes); a second request for the bundle asks every
 * `pollMs` for up to `waitMs`, then is told to ask again.
 */
const BUNDLE_CLAIM = { ttlMs: 30_000, pollMs: 250, waitMs: 15_000 };

/** How long one gateway process may take to write a transcript beside its bundle before another may. */
const WRITE_BACK_CLAIM_MS = 60_000;

const PENDING = new Set<TranscriptionState>(PENDING_TRANSCRIPTION_STATES);
/** Whether a job still waits or runs (it has a place in the queue, and can be cancelled). */
export const isPending = (state: TranscriptionState): boolean => PENDING.has(state);

/** What one try at writing a transcript back came to: written, nothing to write, or another process is at it. */
type WriteBackOutcome = 'written' | 'nothing' | 'claimed';

/**
 * VISP's transcription queue over the gateway's transcriptions: a project's bundles become ordinary jobs (admitted
 * and rendered by `Transcriptions`), listed per project, and their transcripts are written back beside the bundles.
 * Access to the project is the caller's to check.
 */
export class BundleJobs {
  private readonly bundles: ProjectBundles;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly jobs: Pick<Transcriptions, 'admit' | 'render' | 'pendingOrder' | 'cancel'>,
    private readonly deps: { transcriptions: TranscriptionRepository; redis: Redis; logger: Logger },
    private readonly settings: Pick<TranscriptionSettings, 'TRANSCRIPTION_MAX_MIB' | 'TRANSCRIPTION_MAX_SECONDS' | 'PROJECT_REPOSITORIES_DIR'>,
  ) {
    this.bundles = new ProjectBundles(settings.PROJECT_REPOSITORIES_DIR);
  }

  /**
   * Writes each completed bundle job's transcript beside its bundle as the completion goes by on `events`: every
   * gateway process listens, and `writeBack` lets one of them write. Says at once when the projects' repositories
   * (PROJECT_REPOSITORIES_DIR) are not there to be read.
   */
  async start(events: EventBus): Promise<void> {
    this.checkRepositories();
    this.unsubscribe ??= await events.subscribe((event) => {
      if (event.type !== 'transcription.state' || event.state !== 'completed') return;
      this.deps.transcriptions
        .getAnyOwner(event.id)
        .then((record) => record && this.writeBack(record))
        .catch((err: unknown) => this.deps.logger.warn({ err, id: event.id }, 'could not write a transcript beside its bundle; the next look at its queue tries again'));
    });
  }

  /** Stops listening for completions; safe twice. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /**
   * Runs `work` (look at the bundle's queue, then perhaps queue it) as the only one for this bundle in any gateway
   * process: two requests for one bundle at once make one job, the second seeing the first's.
   */
  async oneAtATime<T>(bundle: BundleRef, work: () => Promise<T>): Promise<T> {
    const key = keys.bundleQueueing(JSON.stringify([bundle.project, bundle.session, bundle.bundle]));
    const deadline = Date.now() + BUNDLE_CLAIM.waitMs;
    let held: Claim | undefined;
    while (!(held = await claim(this.deps.redis, key, BUNDLE_CLAIM.ttlMs))) {
      if (Date.now() > deadline) throw new AppError('conflict', 'this bundle is being queued by another request; ask again in a moment');
      await sleep(BUNDLE_CLAIM.pollMs);
    }
    const holder = held;
    const alive = setInterval(() => void holder.extend(BUNDLE_CLAIM.ttlMs).catch(() => false), BUNDLE_CLAIM.ttlMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(alive);
      await holder.release().catch(() => false);
    }
  }

  /**
   * A job of a project's bundle (VISP's `transcribe`): the bundle's recording is copied into the data dir as the
   * job's upload, so the worker, retention and the limits treat it as any other; the origin goes on the record,
   * for the project's queue and for writing the transcript back beside the bundle. The copy counts against the
   * owner's quota and pending limit like an upload: it takes the same disk for the same retention, and otherwise
   * re-queueing bundles would fill it past every limit.
   */
  async createFromBundle(owner: Owner, origin: TranscriptionOrigin, job: { language?: string; model?: string; backend?: TranscriptionBackend }): Promise<TranscriptionRecord> {
    return this.jobs.admit(owner, 0, async (destination, room) => {
      const tooLarge = room.tooLarge ?? `the recording is larger than ${Math.floor(this.settings.TRANSCRIPTION_MAX_MIB)} MiB`;
      const sizeBytes = await this.bundles.copyRecording(origin, destination, room.maxBytes, tooLarge);
      const audio = await checkAudio(destination, this.settings.TRANSCRIPTION_MAX_SECONDS);
      return { filename: origin.bundle.slice(0, 255), sizeBytes, audio, language: job.language, model: job.model, backend: job.backend, origin };
    });
  }

  /**
   * A project's bundle jobs as its queue shows them: per bundle the newest one not cancelled (a cancelled redo
   * shows the job before it again, as VISP's queue item went back to complete), none that was removed from the
   * queue, newest first; with each one's place among the jobs waiting or running.
   */
  async projectQueue(project: string): Promise<BundleJob[]> {
    const [records, order] = await Promise.all([this.deps.transcriptions.listByProject(project), this.jobs.pendingOrder()]);
    const seen = new Set<string>();
    const jobs: BundleJob[] = [];
    for (const record of records) {
      if (!record.origin || record.state === 'cancelled' || record.removedFromQueueAt) continue;
      const key = JSON.stringify([record.origin.session, record.origin.bundle]);
      if (seen.has(key)) continue;
      seen.add(key);
      jobs.push({ record, queueIndex: isPending(record.state) ? order.indexOf(record.id) : -1 });
    }
    return jobs;
  }

  /** Cancels a project's job for whoever may manage its queue. */
  async cancelBundleJob(record: TranscriptionRecord): Promise<void> {
    await this.jobs.cancel(record.owner, record.id).catch((err: unknown) => {
      // Finished meanwhile: nothing left to cancel.
      if (!(err instanceof AppError && err.code === 'conflict')) throw err;
    });
  }

  /** Takes a finished job off its project's queue (VISP deleted such items); the record stays its owner's. */
  async removeFromProjectQueue(record: TranscriptionRecord): Promise<void> {
    await this.deps.transcriptions.removedFromQueue(record.id);
  }

  /**
   * Writes a completed bundle job's transcript beside its bundle (`transcription.srt`, `transcription.txt`), once:
   * every gateway process hears the completion, and the one that claims it in Redis writes, then marks the record.
   * A process that dies in between leaves its claim to expire; the next look at the queue writes it then (the files
   * are replaced whole, so writing twice is harmless). Only the bundle's newest job writes: an older one finishing
   * late never replaces a redo's transcript. A bundle whose directory is gone is given up on (`writeBackFailedAt`:
   * the queue's polls no longer try it; `writtenBack` still does). Returns whether this call wrote them.
   */
  async writeBack(record: TranscriptionRecord): Promise<boolean> {
    return (await this.tryWriteBack(record)) === 'written';
  }

  private async tryWriteBack(given: TranscriptionRecord): Promise<WriteBackOutcome> {
    if (!given.origin || given.state !== 'completed' || given.writtenBackAt || given.filesRemovedAt) return 'nothing';
    const held = await claim(this.deps.redis, keys.transcriptWriteBack(given.id), WRITE_BACK_CLAIM_MS);
    if (!held) return 'claimed';
    const { session, bundle, project } = given.origin;
    try {
      // The record as it is now: another process may have written it since `given` was read.
      const record = await this.deps.transcriptions.newestForBundle(project, session, bundle);
      if (record?.id !== given.id || !record.origin || record.writtenBackAt || record.filesRemovedAt) {
        await held.release().catch(() => false);
        return 'nothing';
      }
      const { srt, txt } = await this.jobs.render(record, ['srt', 'txt'] as const);
      await this.bundles.writeTranscripts(record.origin, { srt, text: txt });
      await this.deps.transcriptions.writtenBack(record.id);
    } catch (err) {
      // The next look at the queue tries again; unless the bundle is gone, when only a read of it does.
      await held.release().catch(() => false);
      if (err instanceof AppError && err.code === 'not_found') await this.deps.transcriptions.writeBackFailed(given.id).catch(() => undefined);
      throw err;
    }
    this.deps.logger.info({ id: given.id, project, session, bundle }, 'transcript written beside its bundle');
    return 'written';
  }

  /**
   * Makes sure a completed bundle job's transcript is beside its bundle before it is read: writes it unless another
   * gateway process is, then waits up to `timeoutMs` for that one to finish.
   */
  async writtenBack(record: TranscriptionRecord, timeoutMs = 5000): Promise<void> {
    if (!record.origin || record.state !== 'completed' || record.writtenBackAt) return;
    if ((await this.tryWriteBack(record)) !== 'claimed') return;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await sleep(100);
      const now = await this.deps.transcriptions.getAnyOwner(record.id);
      if (!now || now.writtenBackAt || now.filesRemovedAt || Date.now() > deadline) return;
    }
  }

  /** The transcripts beside a bundle, as VISP's client reads them. */
  readBundleTranscripts(ref: BundleRef): Promise<{ srt: string; text: string }> {
    return this.bundles.readTranscripts(ref);
  }

  /** Bundles are read there; a container without the mount (quadlet before Podman 5 ignores the drop-in) says so. */
  private checkRepositories(): void {
    const repositories = this.settings.PROJECT_REPOSITORIES_DIR;
    if (!repositories) return;
    void stat(repositories).then(
      (found) => found.isDirectory() || this.deps.logger.warn({ repositories }, 'PROJECT_REPOSITORIES_DIR is not a directory: VISP bundles cannot be transcribed'),
      () => this.deps.logger.warn({ repositories }, 'PROJECT_REPOSITORIES_DIR is not there (is it mounted into the gateway?): VISP bundles cannot be transcribed'),
    );
  }
}
