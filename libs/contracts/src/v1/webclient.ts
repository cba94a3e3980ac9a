import { z } from 'zod';
import { ProjectIdSchema, SessionIdSchema, SessionTypeNameSchema } from './sessions';
import { SessionLimitsSchema } from './session-api';

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
