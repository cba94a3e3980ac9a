import { z } from 'zod';
import { OwnerSchema, ProgressStepSchema, SessionIdSchema, SessionStateSchema } from './sessions';

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

export const BusEventSchema = z.discriminatedUnion('type', [
  SessionProgressEventSchema,
  SessionStateEventSchema,
  SessionCullWarningEventSchema,
]);
export type BusEvent = z.infer<typeof BusEventSchema>;

/** Route table changes, on `visp:chan:routes`: tells every gateway to drop its cached entry. */
export const RouteChangeSchema = z.object({ sid: SessionIdSchema, op: z.enum(['set', 'delete']) });
export type RouteChange = z.infer<typeof RouteChangeSchema>;
