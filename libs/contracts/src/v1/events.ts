import { z } from 'zod';
import { OwnerSchema, ProgressStepSchema, SessionIdSchema, SessionStateSchema } from './sessions';
import { TranscriptionErrorSchema, TranscriptionIdSchema, TranscriptionStateSchema } from './transcriptions';

/** Events on the bus channel `visp:chan:events`; the gateway forwards each to its owner's connections. */
export const SessionProgressEventSchema = z.object({
  type: z.literal('session.progress'),
  owner: OwnerSchema,
  sid: SessionIdSchema,
  step: ProgressStepSchema,
  message: z.string(),
  queuePosition: z.number().int().nonnegative().optional(),
  at: z.iso.datetime(),
});

export const SessionStateEventSchema = z.object({
  type: z.literal('session.state'),
  owner: OwnerSchema,
  sid: SessionIdSchema,
  state: SessionStateSchema,
  reason: z.string().optional(),
  at: z.iso.datetime(),
});

export const SessionCullWarningEventSchema = z.object({
  type: z.literal('session.cull-warning'),
  owner: OwnerSchema,
  sid: SessionIdSchema,
  cullAt: z.iso.datetime(),
  /** Why, in words for the user: idle, or at its maximum age. */
  reason: z.string(),
  at: z.iso.datetime(),
});

export const TranscriptionProgressEventSchema = z.object({
  type: z.literal('transcription.progress'),
  owner: OwnerSchema,
  id: TranscriptionIdSchema,
  /** 0 to 1. */
  progress: z.number().min(0).max(1),
  at: z.iso.datetime(),
});

export const TranscriptionStateEventSchema = z.object({
  type: z.literal('transcription.state'),
  owner: OwnerSchema,
  id: TranscriptionIdSchema,
  state: TranscriptionStateSchema,
  error: TranscriptionErrorSchema.optional(),
  at: z.iso.datetime(),
});

export const BusEventSchema = z.discriminatedUnion('type', [
  SessionProgressEventSchema,
  SessionStateEventSchema,
  SessionCullWarningEventSchema,
  TranscriptionProgressEventSchema,
  TranscriptionStateEventSchema,
]);
export type BusEvent = z.infer<typeof BusEventSchema>;
export type SessionEvent = Extract<BusEvent, { sid: string }>;
export type TranscriptionEvent = Exclude<BusEvent, SessionEvent>;

export const isSessionEvent = (event: BusEvent): event is SessionEvent => 'sid' in event;

/** Route table changes, on `visp:chan:routes`: tells every gateway to drop its cached entry. */
export const RouteChangeSchema = z.object({ sid: SessionIdSchema, op: z.enum(['set', 'delete']) });
export type RouteChange = z.infer<typeof RouteChangeSchema>;
