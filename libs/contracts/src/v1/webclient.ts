import { z } from 'zod';
import { ProjectIdSchema, SessionIdSchema, SessionTypeNameSchema } from './sessions';
import { SessionLimitsSchema, SessionViewSchema } from './session-api';
import { TranscriptionViewSchema } from './transcriptions';
import { ErrorCodeSchema } from './errors';

/**
 * The webclient WebSocket (`/api/v1/ws`), compatible with VISP's webclient: a command names itself and a
 * requestId; every reply repeats both, and says whether more will follow (`update`), it is done (`end`) or it
 * failed (`error`). VISP's client puts a command's fields at the top level, ours under `data`; both are read.
 */
export const RequestIdSchema = z.union([z.string().min(1).max(100), z.number().int()]);

/** The envelope, checked before the command's own fields. */
export const WebclientEnvelopeSchema = z.looseObject({
  type: z.literal('cmd').optional(),
  cmd: z.string().min(1).max(64),
  requestId: RequestIdSchema,
  data: z.record(z.string(), z.unknown()).optional(),
});

/** `launchSession` (VISP: `launchContainerSession`, which names the type `appName` and the project `projectId`). */
export const LaunchCommandSchema = z
  .object({
    type: SessionTypeNameSchema.optional(),
    appName: SessionTypeNameSchema.optional(),
    project: ProjectIdSchema.optional(),
    projectId: z.union([ProjectIdSchema, z.number().int().nonnegative().transform(String)]).optional(),
    limits: SessionLimitsSchema.partial().optional(),
  })
  .refine((c) => c.type ?? c.appName, { message: 'name the session type as type (or appName)' })
  .transform((c) => ({ type: (c.type ?? c.appName) as string, project: c.project ?? c.projectId, limits: c.limits }));

/** `closeSession` and `getSession`: the session by its id (VISP calls it the access code). */
export const SessionCommandSchema = z
  .object({ sid: SessionIdSchema.optional(), sessionAccessCode: SessionIdSchema.optional() })
  .refine((c) => c.sid ?? c.sessionAccessCode, { message: 'name the session as sid' })
  .transform((c) => ({ sid: (c.sid ?? c.sessionAccessCode) as string }));

/** `getTranscription`, `cancelTranscription`, `followTranscription`: the job by its id. */
export const TranscriptionCommandSchema = z.object({ id: z.string().max(64) }).strict();

/** `listSessions`, `listTranscriptions`: no fields. */
export const NoFieldsCommandSchema = z.object({}).strict();

export const WebclientCommandNames = [
  'launchSession',
  'launchContainerSession',
  'closeSession',
  'listSessions',
  'getSession',
  'listTranscriptions',
  'getTranscription',
  'cancelTranscription',
  'followTranscription',
] as const;
export type WebclientCommandName = (typeof WebclientCommandNames)[number];

// The `data` of each command's `end` reply. A launch's or a follow's `update` replies carry its session or job, or
// a progress step.
/** `closeSession`, `getSession`; a launch's `update` replies and its `error` reply. */
export const SessionReplySchema = z.object({ session: SessionViewSchema });
/** `listSessions`. */
export const SessionsReplySchema = z.object({ sessions: z.array(SessionViewSchema) });
/** The end of `launchSession` / `launchContainerSession`: what opens the session (VISP reads the access code from `message`). */
export const LaunchedReplySchema = z.object({ session: SessionViewSchema, accessCode: SessionIdSchema, url: z.string() });
/** `getTranscription`, `cancelTranscription`, the end of `followTranscription`. */
export const TranscriptionReplySchema = z.object({ transcription: TranscriptionViewSchema });
/** `listTranscriptions`. */
export const TranscriptionsReplySchema = z.object({ transcriptions: z.array(TranscriptionViewSchema) });
/**
 * The `error` reply of a command that could not run (a launch or a follow that ends badly carries its session or
 * transcription instead): the error's code; for an unknown command, also the commands there are.
 */
export const ErrorReplySchema = z.object({ code: ErrorCodeSchema, commands: z.array(z.string()).optional() });

export const WebclientReplySchema = z.object({
  type: z.literal('reply'),
  requestId: RequestIdSchema.nullable(),
  cmd: z.string().nullable(),
  progress: z.enum(['update', 'end', 'error']),
  /** VISP reads it as success. */
  result: z.boolean(),
  message: z.string(),
  data: z.unknown().optional(),
});
export type WebclientReply = z.infer<typeof WebclientReplySchema>;
