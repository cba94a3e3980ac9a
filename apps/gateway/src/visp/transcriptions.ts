// VISP's transcription queue (../shared/VISP-PROTOCOL.md §6; webclient transcribe-dialog.component.ts): a project's
// working members transcribe its bundles (recordings in its emuDB), list the project's queue (the client polls it
// every 5 s), take an item off it, and read a bundle's transcript, which is written beside the bundle as
// `transcription.srt` and `.txt`. Fields are in `data`; every reply is family B with `progress: "end"`, failures
// with `result: false` and VISP's words. The jobs themselves are the gateway's transcriptions
// (src/transcriptions/bundle-jobs.ts): a bundle's recording is copied in as the job's upload.
import {
  languageCode,
  VISP_AUTO_LANGUAGE,
  VISP_TRANSCRIPTION_MODELS,
  VispBundleFieldsSchema,
  VispQueueFieldsSchema,
  VispTranscribeFieldsSchema,
  type TranscriptionBackend,
  type TranscriptionState,
  type VispEarlierTranscript,
  type VispProject,
  type VispTranscriptionItem,
  type VispTranscriptionStatus,
} from '@visp/contracts';
import type { Logger } from '@visp/config';
import { AppError, parseOrThrow } from '@visp/service-kit';
import { isPending, type BundleJob, type BundleJobs } from '../transcriptions/bundle-jobs';
import type { VispCommand, VispContext, VispRequest } from './command';

export interface VispTranscriptionDeps {
  transcriptions: Pick<BundleJobs, 'projectQueue' | 'oneAtATime' | 'createFromBundle' | 'cancelBundleJob' | 'removeFromProjectQueue' | 'writeBack' | 'writtenBack' | 'readBundleTranscripts'>;
  /** What `kb-whisper` asks for (VISP_KB_WHISPER_MODEL, VISP_KB_WHISPER_BACKEND); no model: the default one, in Swedish. */
  kbWhisper?: KbWhisper;
  logger: Logger;
}

/** VISP's words for the failures its client shows. */
export const MESSAGES = {
  noProject: 'Project does not exist',
  noAccess: 'User does not have access to this project',
  noManage: 'User does not have the right access to this project to manage transcriptions.',
  notQueued: 'File does not exist in the transcription queue',
  redo: 'Re-doing transcription of file.',
} as const;

/** A job's state as VISP's queue says it; a cancelled job is not in the queue. */
export function vispStatus(state: TranscriptionState): VispTranscriptionStatus | undefined {
  const statuses: Record<TranscriptionState, VispTranscriptionStatus | undefined> = { queued: 'queued', running: 'running', completed: 'complete', failed: 'error', cancelled: undefined };
  return statuses[state];
}

/** The Whisper language code for VISP's language name; undefined to detect it ("Automatic Detection", none). */
export function vispLanguage(given: string | undefined): { code: string | undefined } | { refused: string } {
  const name = given?.trim() ?? '';
  if (name === '' || name.toLowerCase() === VISP_AUTO_LANGUAGE.toLowerCase() || name.toLowerCase() === 'auto') return { code: undefined };
  const code = languageCode(name);
  return code ? { code } : { refused: `Unknown language "${name.slice(0, 32)}": choose one Whisper knows, or ${VISP_AUTO_LANGUAGE}` };
}

/** KBLab's Swedish Whisper where this site has it: the model's name, and the backend that has it (else the default). */
export interface KbWhisper {
  model?: string;
  backend?: TranscriptionBackend;
}

/** What a job asks of the worker: a model hint, its backend, the language (undefined: detect). */
export interface VispJobModel {
  language: string | undefined;
  model?: string;
  backend?: TranscriptionBackend;
}

/**
 * What VISP's model names ask of the worker: `whisper` (or none) is the default model and backend; `kb-whisper` is
 * KBLab's Swedish Whisper as `kbWhisper` names it (on its backend), in Swedish unless another language was chosen
 * (detection too means Swedish: that is what the model is for); without a model configured, the default model
 * transcribes in Swedish. Anything else is refused.
 */
export function vispModel(model: string | undefined, language: string | undefined, kbWhisper: KbWhisper = {}): VispJobModel | { refused: string } {
  const name = model?.trim() || 'whisper';
  if (name === 'whisper') return { language };
  if (name === 'kb-whisper') return { language: language ?? 'sv', ...(kbWhisper.model ? { model: kbWhisper.model, ...(kbWhisper.backend ? { backend: kbWhisper.backend } : {}) } : {}) };
  return { refused: `Unknown model "${name.slice(0, 32)}": this server transcribes with ${VISP_TRANSCRIPTION_MODELS.join(' or ')}` };
}

/** A job as an item of VISP's queue. */
export function vispItem({ record, queueIndex }: BundleJob, status: VispTranscriptionStatus): VispTranscriptionItem | undefined {
  const origin = record.origin;
  if (!origin) return undefined;
  return {
    id: record.id,
    project: origin.project,
    session: origin.session,
    bundle: origin.bundle,
    initiatedByUser: record.owner,
    language: origin.language ?? VISP_AUTO_LANGUAGE,
    model: origin.model ?? 'whisper',
    status,
    error: record.error?.message ?? '',
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    finishedAt: record.finishedAt?.toISOString() ?? null,
    queuePosition: queueIndex,
  };
}

/** A bundle VISP transcribed before the switch, as a finished item of the queue (VISP kept such items). */
export function earlierItem(earlier: VispEarlierTranscript): VispTranscriptionItem {
  return {
    id: earlier.id,
    project: earlier.project,
    session: earlier.session,
    bundle: earlier.bundle,
    initiatedByUser: earlier.initiatedByUser,
    language: earlier.language || VISP_AUTO_LANGUAGE,
    model: earlier.model || 'whisper',
    status: 'complete',
    error: '',
    createdAt: earlier.createdAt ?? earlier.finishedAt ?? '',
    updatedAt: earlier.updatedAt ?? earlier.finishedAt ?? '',
    finishedAt: earlier.finishedAt,
    queuePosition: -1,
  };
}

const bundleKey = (session: string, bundle: string) => JSON.stringify([session, bundle]);

/** The project when the user may manage its transcriptions (a member with a working role); else VISP's refusal, sent. */
async function project(context: VispContext, id: string, forbidden: string): Promise<VispProject | undefined> {
  const found = await context.access.workingProject(context.owner, id).catch((err: unknown) => {
    if (err instanceof AppError && (err.code === 'not_found' || err.code === 'forbidden')) return err.code;
    throw err;
  });
  if (found === 'not_found') context.replyB('end', false, MESSAGES.noProject);
  else if (found === 'forbidden') context.replyB('end', false, forbidden);
  else return found;
  return undefined;
}

/** The bundle's job in its project's queue: the newest not cancelled, unless taken off the queue. */
async function jobOf(deps: VispTranscriptionDeps, projectId: string, session: string, bundle: string): Promise<BundleJob | undefined> {
  return (await deps.transcriptions.projectQueue(projectId)).find((job) => job.record.origin?.session === session && job.record.origin.bundle === bundle);
}

/** VISP's own finished item for the bundle, from before the switch. */
async function earlierOf(context: VispContext, project: VispProject, session: string, bundle: string): Promise<VispEarlierTranscript | undefined> {
  return (await context.access.earlierTranscripts(project, { session, bundle }))[0];
}

/**
 * The bundle a command names, for a working member, with its job here or else VISP's finished item from before
 * the switch; undefined when a refusal was sent instead (neither is in the queue).
 */
async function namedBundle(
  deps: VispTranscriptionDeps,
  request: VispRequest,
  context: VispContext,
): Promise<{ project: VispProject; session: string; bundle: string; job: BundleJob | undefined } | undefined> {
  const fields = parseOrThrow(VispBundleFieldsSchema, request.fields, 'command');
  const found = await project(context, fields.project, MESSAGES.noAccess);
  if (!found) return undefined;
  const named = { project: found, session: fields.session, bundle: fields.bundle };
  const job = await jobOf(deps, found.id, fields.session, fields.bundle);
  if (job || (await earlierOf(context, found, fields.session, fields.bundle))) return { ...named, job };
  context.replyB('end', false, MESSAGES.notQueued);
  return undefined;
}

export function transcriptionCommands(deps: VispTranscriptionDeps): VispCommand[] {
  const { transcriptions, logger } = deps;
  /**
   * Completed jobs whose transcript is not beside their bundle yet (a completion no gateway heard): written now,
   * unless given up on (the bundle was gone).
   */
  const catchUp = (jobs: BundleJob[]) => {
    for (const { record } of jobs) {
      if (record.state !== 'completed' || record.writtenBackAt || record.writeBackFailedAt) continue;
      transcriptions.writeBack(record).catch((err: unknown) => logger.warn({ err, id: record.id }, 'could not write a transcript beside its bundle'));
    }
  };
  return [
    {
      name: 'fetchTranscriptionQueueItems',
      family: 'B',
      async handle(request, context) {
        const fields = parseOrThrow(VispQueueFieldsSchema, request.fields, 'command');
        const found = await project(context, fields.project, MESSAGES.noManage);
        if (!found) return;
        const [jobs, earlier] = await Promise.all([transcriptions.projectQueue(found.id), context.access.earlierTranscripts(found)]);
        catchUp(jobs);
        const items = jobs.flatMap((job) => {
          const status = vispStatus(job.record.state);
          const item = status && vispItem(job, status);
          return item ? [item] : [];
        });
        // A bundle VISP transcribed shows as VISP left it while no job here is the bundle's (projectQueue's jobs all
        // have an origin).
        const here = new Set(jobs.flatMap(({ record }) => (record.origin ? [bundleKey(record.origin.session, record.origin.bundle)] : [])));
        const before = earlier.filter((item) => !here.has(bundleKey(item.session, item.bundle))).map(earlierItem);
        context.replyB('end', true, '', [...items, ...before]);
      },
    },
    {
      name: 'transcribe',
      family: 'B',
      async handle(request, context) {
        const fields = parseOrThrow(VispTranscribeFieldsSchema, request.fields, 'command');
        const language = vispLanguage(fields.language);
        if ('refused' in language) return context.replyB('end', false, language.refused);
        const model = vispModel(fields.model, language.code, deps.kbWhisper);
        if ('refused' in model) return context.replyB('end', false, model.refused);
        const found = await project(context, fields.project, MESSAGES.noAccess);
        if (!found) return;
        const origin = { project: found.id, session: fields.session, bundle: fields.bundle, ...(fields.language ? { language: fields.language } : {}), ...(fields.model ? { model: fields.model } : {}) };
        const message = await transcriptions.oneAtATime(origin, async () => {
          const job = await jobOf(deps, found.id, fields.session, fields.bundle);
          // One job per bundle at a time: asked again while it waits or runs, the answer is that one.
          if (job && isPending(job.record.state)) return 'The file is already in the transcription queue.';
          const existing = job ?? (await earlierOf(context, found, fields.session, fields.bundle));
          await transcriptions.createFromBundle(context.owner, origin, model);
          // A finished one is done again, from the bundle's recording as it is now (VISP re-queued its item).
          return existing ? MESSAGES.redo : '';
        });
        context.replyB('end', true, message);
      },
    },
    {
      name: 'removeTranscriptionFromQueue',
      family: 'B',
      async handle(request, context) {
        const named = await namedBundle(deps, request, context);
        if (!named) return;
        const { job } = named;
        // Waiting or running: cancelled (a redo's cancel shows the job before it again). Completed: VISP kept the
        // item, with its transcript (VISP's own from before the switch too). Failed: VISP deleted the item.
        if (job && isPending(job.record.state)) await transcriptions.cancelBundleJob(job.record);
        else if (job?.record.state === 'failed') await transcriptions.removeFromProjectQueue(job.record);
        context.replyB('end', true, '');
      },
    },
    {
      name: 'fetchTranscription',
      family: 'B',
      async handle(request, context) {
        const named = await namedBundle(deps, request, context);
        if (!named) return;
        const { job, project: found, session, bundle } = named;
        // Read right after completion, the transcript may still be on its way beside the bundle. VISP's own
        // transcript from before the switch is there already.
        if (job) await transcriptions.writtenBack(job.record).catch((err: unknown) => logger.warn({ err, id: job.record.id }, 'could not write a transcript beside its bundle'));
        const { srt, text } = await transcriptions.readBundleTranscripts({ project: found.id, session, bundle });
        context.replyB('end', true, '', { srt, text });
      },
    },
  ];
}
