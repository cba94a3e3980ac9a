import { z } from 'zod';
import { ProjectIdSchema } from './sessions';

// VISP's transcription of a project's bundles (../shared/VISP-PROTOCOL.md §6; webclient transcribe-dialog.component.ts,
// session-manager WhisperService.class.js): the commands' fields, the queue item its client reads, and where a
// bundle job came from. The recording is a bundle's audio in the project's emuDB,
// `<PROJECT_REPOSITORIES_DIR>/<project>/Data/VISP_emuDB/<session>_ses/<bundle sans extension>_bndl/<bundle>`.

/** A project id as VISP's client sends it (a string; VISP's numeric ids as numbers). */
const VispProjectRefSchema = z.union([z.string().min(1).max(128), z.number().int().nonnegative().transform(String)]);

/** An emuDB session's or bundle's name: one path segment, checked as such where it becomes a path (the gateway). */
const EmuNameSchema = z.string().min(1).max(255);

/** `fetchTranscriptionQueueItems`: the project whose queue to list. */
export const VispQueueFieldsSchema = z.object({ project: VispProjectRefSchema });

/** `removeTranscriptionFromQueue`, `fetchTranscription`: one bundle of a project (`bundle` is the file name, extension included). */
export const VispBundleFieldsSchema = z.object({ project: VispProjectRefSchema, session: EmuNameSchema, bundle: EmuNameSchema });

/** `transcribe`: a bundle, with VISP's language name ("English", "Automatic Detection") and model ("whisper", "kb-whisper"). */
export const VispTranscribeFieldsSchema = VispBundleFieldsSchema.extend({
  language: z.string().max(64).optional(),
  model: z.string().max(64).optional(),
});

/** The models VISP's client offers: Whisper (the default model) and KBLab's Swedish Whisper. */
export const VISP_TRANSCRIPTION_MODELS = ['whisper', 'kb-whisper'] as const;
/** VISP's language name for "let the engine detect it". */
export const VISP_AUTO_LANGUAGE = 'Automatic Detection';

/** A queue item's status as VISP's client shows it (capitalised). */
export const VISP_TRANSCRIPTION_STATUSES = ['queued', 'running', 'complete', 'error'] as const;
export type VispTranscriptionStatus = (typeof VISP_TRANSCRIPTION_STATUSES)[number];

/**
 * Where a job's recording came from: a bundle of a project's emuDB, and the language and model as VISP's client
 * named them (its queue shows them so). Stored with the job; its results go back beside the bundle.
 */
export const TranscriptionOriginSchema = z.object({
  project: ProjectIdSchema,
  session: EmuNameSchema,
  bundle: EmuNameSchema,
  language: z.string().max(64).optional(),
  model: z.string().max(64).optional(),
});
export type TranscriptionOrigin = z.infer<typeof TranscriptionOriginSchema>;

/** An item of `fetchTranscriptionQueueItems`' `data`: VISP's queue document, the fields its client and people read. */
export interface VispTranscriptionItem {
  id: string;
  project: string;
  session: string;
  bundle: string;
  initiatedByUser: string;
  /** VISP's language name as it was asked for ("English", "Automatic Detection"). */
  language: string;
  model: string;
  status: VispTranscriptionStatus;
  /** Why it failed; empty otherwise (VISP's `error` string). */
  error: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** 0-based among the project's waiting and running items, -1 when in neither (VISP's rule). */
  queuePosition: number;
}

/** A date VISP stored (a Date from the driver, or a string in an export); absent or unreadable: null. */
const storedDate = z
  .unknown()
  .optional()
  .transform((value) => {
    const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
    return date && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
  });
/** A text VISP may have left out or stored as null. */
const storedText = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((value) => value ?? '');

/**
 * A finished item of VISP's own queue (its `transcriptionqueueitems`, read-only): a bundle transcribed before the
 * site switched, its transcript beside the bundle. Shown in the queue, and its transcript read, until the bundle
 * is transcribed here.
 */
export const VispEarlierTranscriptSchema = z.looseObject({
  id: z.union([z.string().min(1).max(128), z.number().transform(String)]),
  project: VispProjectRefSchema,
  session: EmuNameSchema,
  bundle: EmuNameSchema,
  initiatedByUser: storedText(256),
  language: storedText(64),
  model: storedText(64),
  createdAt: storedDate,
  updatedAt: storedDate,
  finishedAt: storedDate,
});
export type VispEarlierTranscript = z.output<typeof VispEarlierTranscriptSchema>;
