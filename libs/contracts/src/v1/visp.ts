import { z } from 'zod';
import { OwnerSchema, ProjectIdSchema } from './sessions';
import { RequestIdSchema } from './webclient';

// VISP's webclient protocol, served on `/` with the VISP profile (gateway setting VISP_WEBCLIENT), as its client
// (humlab-speech/webclient) speaks it and its old session-manager answered (../shared/VISP-PROTOCOL.md). The
// client is not ours to change: these shapes are VISP's, field for field.

/**
 * A command: `cmd`, the client's `requestId` (a nanoid; legacy frames have none), and its fields at the top level
 * (session commands) or under `data` (auth and transcription commands). `type: "cmd"` appears on legacy frames only.
 */
export const VispEnvelopeSchema = z.looseObject({
  cmd: z.string().min(1).max(64),
  requestId: RequestIdSchema.optional(),
  data: z.unknown().optional(),
});

/** A project member as VISP stores it; roles seen are `admin`, `analyzer` and `member`. */
export const VispMemberSchema = z.looseObject({ username: z.string().min(1).max(256), role: z.string().max(64) });

/**
 * A project in VISP's `projects` collection (read-only here: a VISP site keeps its data where it is), or in the
 * product's own store with the same fields. Other fields VISP keeps (sessions, annotationLevels, docs, …) are
 * passed to the client as they are.
 */
export const VispProjectSchema = z.looseObject({
  id: z.union([z.string().min(1).max(128), z.number().int().nonnegative().transform(String)]),
  name: z.string().max(256),
  archived: z.boolean().optional(),
  members: z.array(VispMemberSchema).default([]),
});
export type VispProject = z.output<typeof VispProjectSchema>;

/** A text VISP may leave out or store as null (an attribute the IdP did not release): absent either way. */
const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((value) => value ?? undefined);

/** A user in VISP's `users` collection. */
export const VispUserSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).nullish().transform((value) => value ?? undefined),
  username: z.string().min(1).max(256),
  eppn: optionalText(256),
  firstName: optionalText(256),
  lastName: optionalText(256),
  fullName: optionalText(512),
  email: optionalText(256),
  loginAllowed: z.boolean().nullish().transform((value) => value ?? undefined),
  privileges: z.record(z.string(), z.unknown()).nullish().transform((value) => value ?? undefined),
});

/** A user as the project directory gives them (the schema's output, with the absent fields optional). */
export interface VispUser {
  [field: string]: unknown;
  id?: string | number;
  username: string;
  eppn?: string;
  firstName?: string;
  lastName?: string;
  fullName?: string;
  email?: string;
  loginAllowed?: boolean;
  privileges?: Record<string, unknown>;
}

/** The username VISP gave a user from their eppn (webclient src/index.php `formatEppn`): `@` and `.` spelt out. */
export const vispUsernameOf = (eppn: string): string => eppn.replace(/@/g, '_at_').replace(/\./g, '_dot_');

/** What `getSession` answers: VISP's UserSession (webclient src/app/models/UserSession.ts). */
export interface VispUserSession {
  id: string | number;
  firstName: string;
  lastName: string;
  fullName: string;
  email: string;
  eppn: string;
  username: string;
  privileges: Record<string, unknown>;
}

/** A live session as `fetchProjects` lists it under each project (`liveAppSessions`). */
export interface VispLiveAppSession {
  projectId: string;
  username: string;
  type: string;
  sessionAccessCode: string;
}

/** `launchContainerSession`: the project and the app (a session type) to run in it. */
export const VispLaunchFieldsSchema = z.object({
  projectId: z.union([z.string().min(1).max(128), z.number().int().nonnegative().transform(String)]),
  appName: z.string().min(1).max(64),
});

/** `closeSession`, `shutdownSession`: the session by its access code, whatever the client holds. */
export const VispSessionCodeFieldsSchema = z.object({ sessionAccessCode: z.string().max(256) });

/** Family A (VISP's `WebSocketMessage` class): `data` carries the answer; `progress` null unless a step. */
export interface VispReplyA {
  requestId: string | number | null;
  cmd: string;
  data: unknown;
  message: string | null;
  progress: 'update' | 'end' | null;
  result: boolean;
}

/** Family B (hand-built `cmd-result` frames): `message` carries the answer (a launch's access code). */
export interface VispReplyB {
  type: 'cmd-result';
  requestId?: string | number;
  cmd: string;
  progress: 'update' | 'end';
  message: string;
  /** A boolean; a string only on the legacy `shutdownSession` frame, as VISP sent it. */
  result: boolean | string;
  data?: unknown;
}

/** What VISP says to a user the access list does not allow, in its denial frame (family A, `result: true` as VISP). */
export const VISP_DENIAL = 'You are not authorized to use this functionality';

/** The progress texts of a launch, in VISP's order (its session-manager's `getSessionContainer`). */
export const VISP_LAUNCH_TEXTS = ['Pre-flight', 'Pre-flight complete', 'Creating session', 'Launching', 'Session ready'] as const;

/** The project roles that may run sessions and transcriptions in a project (VISP: admin, analyzer). */
export const VISP_WORKING_ROLES: readonly string[] = ['admin', 'analyzer'];

/** The roles of a project member in the product's own store, VISP's three. */
export const PROJECT_ROLES = ['admin', 'analyzer', 'member'] as const;
export const ProjectRoleSchema = z.enum(PROJECT_ROLES);

/** `POST /api/v1/admin/projects`: a project of the product's own store. */
export const CreateProjectRequestSchema = z
  .object({
    id: ProjectIdSchema,
    name: z.string().trim().min(1).max(256),
    members: z.array(z.object({ username: OwnerSchema, role: ProjectRoleSchema }).strict()).max(1000).default([]),
  })
  .strict()
  .refine((p) => new Set(p.members.map((m) => m.username)).size === p.members.length, { message: 'a member is listed once' });

/** `PUT /api/v1/admin/projects/:id/members/:username`. */
export const SetMemberRequestSchema = z.object({ role: ProjectRoleSchema }).strict();

/** `PUT /api/v1/admin/access/:username`: on VISP's access list or off it (its `loginAllowed`). */
export const SetAccessRequestSchema = z.object({ loginAllowed: z.boolean() }).strict();
