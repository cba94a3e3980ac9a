import { z } from 'zod';
import { ProjectIdSchema, SessionIdSchema, SessionTypeNameSchema } from './sessions';
import { SessionLimitsSchema, SessionViewSchema } from './session-api';
import { TranscriptionViewSchema } from './transcriptions';
import { ErrorCodeSchema } from './errors';

/**
 * The webclient WebSocket (`/api/v1/ws`): a command names itself and a requestId; every reply repeats both, and
 * says whether more will follow (`update`), it is done (`end`) or it failed (`error`). A command's fields are read
 * from `data` and from the top level. VISP's own client speaks its own dialect on `/` (visp.ts).
 */
export const RequestIdSchema = z.union([z.string().min(1).max(100), z.number().int()]);

/** The envelope, checked before the command's own fields. */
export const WebclientEnvelopeSchema = z.looseObject({
  type: z.literal('cmd').optional(),
  cmd: z.string().min(1).max(64),
  requestId: RequestIdSchema,
  data: z.record(z.string(), z.unknown()).optional(),
});

/** `launchSession`: a session type, optionally in a project, with limits within the type's. */
export const LaunchCommandSchema = z
  .object({ type: SessionTypeNameSchema, project: ProjectIdSchema.optional(), limits: SessionLimitsSchema.partial().optional() })
  .strict();

/** `closeSession` and `getSession`: the session by its id. */
export const SessionCommandSchema = z.object({ sid: SessionIdSchema }).strict();

/** `getTranscription`, `cancelTranscription`, `followTranscription`: the job by its id. */
export const TranscriptionCommandSchema = z.object({ id: z.string().max(64) }).strict();

/** `listSessions`, `listTranscriptions`: no fields. */
export const NoFieldsCommandSchema = z.object({}).strict();

export const WebclientCommandNames = [
  'launchSession',
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
/** The end of `launchSession`: what opens the session (its id, which VISP calls the access code, is also the `message`). */
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
