import { z } from 'zod';
import { PROGRESS_STEPS, SESSION_STATES } from './vocabulary';

/** 12 lowercase RFC 4648 base32 characters: 60 random bits, unguessable, safe in names and URLs. */
export const SessionIdSchema = z.string().regex(/^[a-z2-7]{12}$/, 'a session id is 12 characters of a-z and 2-7');
export type SessionId = z.infer<typeof SessionIdSchema>;

/** A user name as it appears in labels, volume names and routes. Shibboleth eppn values fit. */
export const OwnerSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'an owner is letters, digits and . _ @ - (starting with a letter or digit)');
export type Owner = z.infer<typeof OwnerSchema>;

/** Session types are configuration; their names are short lowercase identifiers. */
export const SessionTypeNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a session type is a lowercase name');

/**
 * A project id (VISP's `project.id`) names a directory, `<PROJECT_REPOSITORIES_DIR>/<id>`, that sessions of the
 * project mount: one path segment, never `.`, `..` or a hidden name, so it does not start with a dot. VISP's ids
 * are nanoids (A–Z a–z 0–9 _ -), and may start with `_` or `-`.
 */
export const ProjectIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, 'a project id is letters, digits and . _ - (not starting with a dot)');

export const SessionStateSchema = z.enum(SESSION_STATES);
export type SessionState = z.infer<typeof SessionStateSchema>;

export const ProgressStepSchema = z.enum(PROGRESS_STEPS);
export type ProgressStep = z.infer<typeof ProgressStepSchema>;

/** Everything the `visp.*` labels carry: enough to rebuild a session record without any database. */
export const SessionLabelsSchema = z.object({
  instance: z.string().min(1).max(64),
  id: SessionIdSchema,
  type: SessionTypeNameSchema,
  owner: OwnerSchema,
  project: ProjectIdSchema.optional(),
  created: z.iso.datetime(),
  /** Prepared ahead for its owner (the warm pool). Labels cannot change: an adopted session still says so. */
  warm: z.literal(true).optional(),
});
export type SessionLabels = z.infer<typeof SessionLabelsSchema>;

/** An entry of the route table the gateway proxies by. */
export const RouteSchema = z.object({
  sid: SessionIdSchema,
  owner: OwnerSchema,
  target: z.url({ protocol: /^https?$/ }),
  token: z.string().min(16),
  stripPrefix: z.boolean(),
  updatedAt: z.iso.datetime(),
});
export type Route = z.infer<typeof RouteSchema>;
