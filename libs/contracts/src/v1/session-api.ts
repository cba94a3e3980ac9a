import { z } from 'zod';
import { OwnerSchema, ProjectIdSchema, ProgressStepSchema, SessionIdSchema, SessionStateSchema, SessionTypeNameSchema } from './sessions';

/** Resource limits in the units people use. */
export const SessionLimitsSchema = z
  .object({
    memoryMiB: z.number().int().min(64).max(262_144),
    cpus: z.number().min(0.1).max(64),
    pids: z.number().int().min(16).max(65_536),
  })
  .strict();
export type SessionLimits = z.infer<typeof SessionLimitsSchema>;

/** POST /api/v1/sessions (session-manager, internal). Limits default per type and may not exceed its maximum. */
export const CreateSessionRequestSchema = z
  .object({
    owner: OwnerSchema,
    type: SessionTypeNameSchema,
    project: ProjectIdSchema.optional(),
    limits: SessionLimitsSchema.partial().optional(),
  })
  .strict();
export type CreateSessionRequest = z.infer<typeof CreateSessionRequestSchema>;

export const ListSessionsQuerySchema = z
  .object({
    owner: OwnerSchema.optional(),
    state: SessionStateSchema.optional(),
  })
  .strict();

/** GET …/sessions/:sid may be scoped to an owner: another owner's session is then "not found". */
export const SessionScopeQuerySchema = z.object({ owner: OwnerSchema.optional() }).strict();

/**
 * Why a session is stopped through DELETE …/sessions/:sid, as its history and its owner read it: its owner asked
 * (the default), its owner may no longer have it (off the access list, out of its project), or an administrator. A word from this
 * list, never free text: the reason reaches the owner's page.
 */
export const STOP_REASONS = {
  'owner-asked': 'stopped by user',
  'access-revoked': 'stopped: its owner may no longer use this site or work in its project',
  'admin-stopped': 'stopped by an administrator',
} as const;
export type StopReason = keyof typeof STOP_REASONS;
export const SessionStopQuerySchema = SessionScopeQuerySchema.extend({ reason: z.enum(Object.keys(STOP_REASONS) as [StopReason, ...StopReason[]]).optional() }).strict();

export const SessionViewSchema = z.object({
  sid: SessionIdSchema,
  owner: OwnerSchema,
  type: SessionTypeNameSchema,
  project: ProjectIdSchema.optional(),
  state: SessionStateSchema,
  reason: z.string().optional(),
  limits: SessionLimitsSchema,
  /** Where the gateway serves it: `/s/<sid>/`. */
  path: z.string(),
  createdAt: z.iso.datetime(),
  readyAt: z.iso.datetime().optional(),
  stoppedAt: z.iso.datetime().optional(),
  history: z.array(z.object({ state: SessionStateSchema, at: z.iso.datetime(), reason: z.string().optional() })),
  /**
   * Prepared ahead for its owner and not yet launched (the warm pool): no route, not in its owner's lists. Only
   * administrators' lists show such sessions.
   */
  warm: z.literal(true).optional(),
});
export type SessionView = z.infer<typeof SessionViewSchema>;

/** One message of GET …/sessions/:sid/events (SSE `data:`): a progress step, a state change or a culling warning. */
export const SessionStreamMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('progress'), step: ProgressStepSchema, message: z.string(), queuePosition: z.number().int().optional(), at: z.iso.datetime() }),
  z.object({ kind: z.literal('state'), state: SessionStateSchema, reason: z.string().optional(), at: z.iso.datetime() }),
  z.object({ kind: z.literal('cull-warning'), cullAt: z.iso.datetime(), reason: z.string(), at: z.iso.datetime() }),
]);
export type SessionStreamMessage = z.infer<typeof SessionStreamMessageSchema>;

/** The public path of a session behind the gateway. */
export const sessionPath = (sid: string) => `/s/${sid}/`;

/** The public API's create: the owner is whoever is signed in. */
export const PublicCreateSessionRequestSchema = CreateSessionRequestSchema.omit({ owner: true });
export type PublicCreateSessionRequest = z.infer<typeof PublicCreateSessionRequestSchema>;

/** GET /api/v1/capacity (session-manager) and /api/v1/admin/capacity (gateway): how full the host is. */
export const CapacityViewSchema = z.object({
  /** Sessions that may start or run at once. */
  capacity: z.number().int(),
  /** Sessions holding a slot (starting, running or stopping). */
  holding: z.number().int(),
  /** Requests waiting in line for a slot. */
  waiting: z.number().int(),
  /** Of `holding`, the prepared sessions (the warm pool), which give up their slot to a launch that would wait. */
  warm: z.number().int(),
  maxPerUser: z.number().int(),
});
export type CapacityView = z.infer<typeof CapacityViewSchema>;

/**
 * POST /api/v1/sessions/prepare (session-manager, internal): the owner signed in or opened the start page; prepare
 * the sessions they may launch next (the warm pool), if it is on. Answers at once; the preparing goes on behind.
 */
export const PrepareSessionsRequestSchema = z.object({ owner: OwnerSchema }).strict();
export type PrepareSessionsRequest = z.infer<typeof PrepareSessionsRequestSchema>;
/** The sessions whose preparation began with this request (none when the pool is off, full, or they exist). */
export const PrepareSessionsViewSchema = z.object({ preparing: z.array(z.object({ sid: SessionIdSchema, type: SessionTypeNameSchema })) });
export type PrepareSessionsView = z.infer<typeof PrepareSessionsViewSchema>;

/** GET /api/v1/session-types: what can be launched, with the limits a request may ask for. */
export const SessionTypesViewSchema = z.object({
  types: z.array(z.object({ name: SessionTypeNameSchema, limits: z.object({ default: SessionLimitsSchema, max: SessionLimitsSchema }) })),
});
export type SessionTypesView = z.infer<typeof SessionTypesViewSchema>;
