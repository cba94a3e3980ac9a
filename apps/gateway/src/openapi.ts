import { z } from 'zod';
import {
  ApiTokenViewSchema,
  AuthConfigSchema,
  CapacityViewSchema,
  CreateTokenRequestSchema,
  DevLoginRequestSchema,
  ErrorBodySchema,
  OwnerSchema,
  ProjectIdSchema,
  MeSchema,
  PublicCreateSessionRequestSchema,
  ReconcileReportSchema,
  SessionStateSchema,
  SessionLimitsSchema,
  SessionTypesViewSchema,
  SessionViewSchema,
  type SessionTypesView,
  CreateTranscriptionFieldsSchema,
  CreateProjectRequestSchema,
  SetAccessRequestSchema,
  SetMemberRequestSchema,
  VispProjectSchema,
  TranscriptFormatSchema,
  TranscriptionViewSchema,
  TranscriptSchema,
} from '@visp/contracts';

type Method = 'get' | 'post' | 'put' | 'delete';
type Access = 'public' | 'user' | 'admin';

interface Operation {
  method: Method;
  path: string;
  summary: string;
  access: Access;
  body?: z.ZodType;
  /** A multipart/form-data body: these fields beside one file in `file`. */
  form?: z.ZodObject;
  query?: z.ZodObject;
  /** The path's parameters, where they are checked against a schema (else any string, and a miss is a 404). */
  params?: z.ZodObject;
  /** Status and schema of the success answer; no schema: no body (204) or not JSON (see `produces`). */
  ok: [number, z.ZodType?];
  produces?: 'text/event-stream' | 'text/plain';
  /** Refusals besides the ones every operation of its kind has. */
  refusals?: Record<number, string>;
}

const SessionsSchema = z.object({ sessions: z.array(SessionViewSchema) });
const TranscriptionsSchema = z.object({ transcriptions: z.array(TranscriptionViewSchema) });
const StateQuery = z.object({ state: SessionStateSchema.optional() });
const ProjectsSchema = z.object({ projects: z.array(VispProjectSchema) });
const ProjectParams = z.object({ id: ProjectIdSchema });
const MemberParams = z.object({ id: ProjectIdSchema, username: OwnerSchema });
const UserParams = z.object({ username: OwnerSchema });
const VISP_SOURCE = { 409: "Projects are VISP's here (PROJECT_SOURCE=visp): managed in VISP" };
const MEMBERS_CHANGE = { 409: "The project changed meanwhile (try again), or projects are VISP's here (PROJECT_SOURCE=visp)" };
const CreatedTokenSchema = ApiTokenViewSchema.extend({ token: z.string().describe('Shown once; send as Authorization: Bearer …') });

type SessionTypes = SessionTypesView['types'];

/**
 * A launch as this gateway's session-manager takes it: one of its types, with limits up to that type's maximum
 * (the contract's minimums). Without the types (the session-manager unreachable): any type name, as the contract.
 */
function launchSchema(types: SessionTypes | undefined): z.ZodType {
  const [first, ...rest] = (types ?? []).map(({ name, limits: { max } }) =>
    PublicCreateSessionRequestSchema.extend({
      type: z.literal(name),
      limits: SessionLimitsSchema.extend({ memoryMiB: z.number().int().min(64).max(max.memoryMiB), cpus: z.number().min(0.1).max(max.cpus), pids: z.number().int().min(16).max(max.pids) }).partial().strict().optional(),
    }),
  );
  return first ? z.union([first, ...rest]) : PublicCreateSessionRequestSchema;
}

/** Every public route of the gateway, with the contracts' schemas: the source of the OpenAPI document. */
const operations = (types: SessionTypes | undefined): readonly Operation[] => [
  { method: 'get', path: '/auth/config', summary: 'How this gateway signs people in', access: 'public', ok: [200, AuthConfigSchema] },
  { method: 'get', path: '/auth/sso', summary: "Sign in from the SSO front proxy's identity headers (trusted proxies only); redirects to /", access: 'public', ok: [303], refusals: { 401: 'No identity from the SSO front proxy', 404: 'This gateway signs in with the development key' } },
  { method: 'post', path: '/auth/login', summary: 'Sign in with the development key (AUTH_MODE=dev-key)', access: 'public', body: DevLoginRequestSchema, ok: [200, MeSchema.pick({ username: true, admin: true })], refusals: { 401: 'Wrong login key', 404: 'This gateway signs in through SSO', 429: 'Too many sign-in attempts from this client; wait a minute' } },
  { method: 'post', path: '/auth/logout', summary: 'Sign out: the login is revoked server-side', access: 'public', ok: [204] },
  { method: 'get', path: '/api/v1/me', summary: 'Who is signed in', access: 'user', ok: [200, MeSchema] },
  { method: 'post', path: '/api/v1/tokens', summary: 'Create an API token (shown once)', access: 'user', body: CreateTokenRequestSchema, ok: [201, CreatedTokenSchema] },
  { method: 'get', path: '/api/v1/tokens', summary: "The user's API tokens", access: 'user', ok: [200, z.object({ tokens: z.array(ApiTokenViewSchema) })] },
  { method: 'delete', path: '/api/v1/tokens/{id}', summary: 'Revoke an API token', access: 'user', ok: [204] },
  { method: 'get', path: '/api/v1/session-types', summary: 'What can be launched', access: 'user', ok: [200, SessionTypesViewSchema] },
  { method: 'get', path: '/api/v1/sessions', summary: "The user's sessions", access: 'user', query: StateQuery, ok: [200, SessionsSchema] },
  { method: 'post', path: '/api/v1/sessions', summary: 'Launch a session; follow it with …/events', access: 'user', body: launchSchema(types), ok: [202, SessionViewSchema], refusals: { 403: 'Not on the access list, or not an admin or analyzer of the project', 404: 'No such project', 409: 'The user has the most sessions allowed running' } },
  { method: 'get', path: '/api/v1/sessions/{sid}', summary: 'One session', access: 'user', ok: [200, SessionViewSchema] },
  { method: 'delete', path: '/api/v1/sessions/{sid}', summary: 'Stop a session', access: 'user', ok: [200, SessionViewSchema] },
  { method: 'get', path: '/api/v1/sessions/{sid}/events', summary: 'Progress and state as server-sent events', access: 'user', ok: [200], produces: 'text/event-stream', refusals: { 429: 'You have MAX_STREAMS_PER_USER WebSockets and event streams open' } },
  { method: 'get', path: '/api/v1/admin/sessions', summary: "Everyone's sessions", access: 'admin', query: StateQuery, ok: [200, SessionsSchema] },
  { method: 'get', path: '/api/v1/admin/capacity', summary: 'How full the host is', access: 'admin', ok: [200, CapacityViewSchema] },
  { method: 'post', path: '/api/v1/admin/reconcile', summary: 'A recovery pass now (?dryRun=true only plans)', access: 'admin', query: z.object({ dryRun: z.enum(['true', 'false']).optional() }), ok: [200, ReconcileReportSchema] },
  { method: 'delete', path: '/api/v1/admin/sessions/{sid}', summary: "Stop anyone's session", access: 'admin', ok: [200, SessionViewSchema] },
  { method: 'get', path: '/api/v1/projects', summary: "The user's projects (a session in one mounts its files)", access: 'user', ok: [200, ProjectsSchema] },
  { method: 'get', path: '/api/v1/admin/projects', summary: "Every project of the product's own store", access: 'admin', ok: [200, ProjectsSchema], refusals: VISP_SOURCE },
  { method: 'post', path: '/api/v1/admin/projects', summary: 'Create a project with its members', access: 'admin', body: CreateProjectRequestSchema, ok: [201, VispProjectSchema], refusals: { 409: 'There is such a project already, or projects are managed in VISP' } },
  { method: 'put', path: '/api/v1/admin/projects/{id}/members/{username}', summary: 'Add a member or change their role', access: 'admin', params: MemberParams, body: SetMemberRequestSchema, ok: [200, VispProjectSchema], refusals: MEMBERS_CHANGE },
  { method: 'delete', path: '/api/v1/admin/projects/{id}/members/{username}', summary: 'Remove a member', access: 'admin', params: MemberParams, ok: [200, VispProjectSchema], refusals: MEMBERS_CHANGE },
  { method: 'delete', path: '/api/v1/admin/projects/{id}', summary: 'Delete a project (its files stay)', access: 'admin', params: ProjectParams, ok: [204], refusals: VISP_SOURCE },
  { method: 'put', path: '/api/v1/admin/access/{username}', summary: "Put a user on VISP's access list or take them off (ACCESS_LIST_ENABLED)", access: 'admin', params: UserParams, body: SetAccessRequestSchema, ok: [204], refusals: VISP_SOURCE },
  {
    method: 'post',
    path: '/api/v1/transcriptions',
    summary: 'Upload a recording to transcribe (the type is read from its content); follow it with GET or the webclient socket',
    access: 'user',
    form: CreateTranscriptionFieldsSchema,
    ok: [202, TranscriptionViewSchema],
    refusals: { 413: 'The file is too large, or does not fit in your storage quota', 415: 'Not multipart, or not audio', 422: 'Audio that cannot be decoded, is empty or too long', 429: 'Too many of your jobs are pending', 507: 'The server is short of disk space' },
  },
  { method: 'get', path: '/api/v1/transcriptions', summary: "The user's transcriptions, newest first", access: 'user', ok: [200, TranscriptionsSchema] },
  { method: 'get', path: '/api/v1/transcriptions/{id}', summary: 'One transcription: state, queue position, progress, error', access: 'user', ok: [200, TranscriptionViewSchema] },
  { method: 'delete', path: '/api/v1/transcriptions/{id}', summary: 'Cancel a queued or running transcription', access: 'user', ok: [200, TranscriptionViewSchema], refusals: { 409: 'It has already finished' } },
  {
    method: 'get',
    path: '/api/v1/transcriptions/{id}/result',
    summary: 'The transcript as json (segments and words with times), txt, srt or vtt',
    access: 'user',
    query: z.object({ format: TranscriptFormatSchema.optional() }),
    ok: [200, TranscriptSchema],
    refusals: { 404: 'Not yours, or deleted after the retention period', 409: 'It has not completed' },
  },
];

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
const json = (schema: z.ZodType, io: 'input' | 'output') => ({ 'application/json': { schema: jsonSchema(schema, io) } });
const errorResponse = (description: string) => ({ description, content: json(ErrorBodySchema, 'output') });

function parametersOf(op: Operation) {
  const inPath = [...op.path.matchAll(/\{(\w+)\}/g)].map(([, name = '']) => {
    const checked = op.params?.shape[name] as z.ZodType | undefined;
    return { name, in: 'path', required: true, schema: checked ? jsonSchema(checked, 'input') : { type: 'string' } };
  });
  const inQuery = Object.entries(op.query?.shape ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema: jsonSchema(schema as z.ZodType, 'input') }));
  return [...inPath, ...inQuery];
}

/** A form's fields as JSON Schema, plus the file. */
function formSchema(fields: z.ZodObject) {
  const schema = jsonSchema(fields, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return { ...schema, properties: { file: { type: 'string', format: 'binary', description: 'The recording' }, ...schema.properties }, required: ['file', ...(schema.required ?? [])] };
}

function operationObject(op: Operation) {
  const [status, schema] = op.ok;
  const success = schema ? { description: 'OK', content: json(schema, 'output') } : op.produces ? { description: 'OK', content: { [op.produces]: {} } } : { description: 'No content' };
  return {
    summary: op.summary,
    ...(op.access === 'public' ? { security: [] } : {}),
    parameters: parametersOf(op),
    ...(op.body ? { requestBody: { required: true, content: json(op.body, 'input') } } : {}),
    ...(op.form ? { requestBody: { required: true, content: { 'multipart/form-data': { schema: formSchema(op.form) } } } } : {}),
    responses: {
      [status]: success,
      ...(op.body || op.query || op.form ? { 400: errorResponse('Malformed or invalid input'), 415: errorResponse('The body is not JSON') } : op.params ? { 400: errorResponse('A malformed path parameter') } : {}),
      ...(op.access === 'public' ? {} : { 401: errorResponse('Not signed in'), 403: errorResponse(op.access === 'admin' ? 'Not an administrator, or a cross-origin request' : 'A cross-origin request') }),
      ...(op.path.includes('{') ? { 404: errorResponse('No such thing, or not yours') } : {}),
      ...Object.fromEntries(Object.entries(op.refusals ?? {}).map(([status, description]) => [status, errorResponse(description)])),
    },
  };
}

/** The OpenAPI 3.1 document of the public API, generated from the schemas in libs/contracts and `types`. */
export function openApiDocument(types?: SessionTypes): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations(types)) (paths[op.path] ??= {})[op.method] = operationObject(op);
  return {
    openapi: '3.1.0',
    info: { title: 'VISP Session Host', version: '1', description: 'Interactive Jupyter and RStudio sessions, and speech transcription. The session proxy is /s/{sid}/…; the webclient WebSocket is /api/v1/ws.' },
    components: {
      securitySchemes: {
        cookie: { type: 'apiKey', in: 'cookie', name: 'visp_login' },
        token: { type: 'http', scheme: 'bearer', description: 'An API token from POST /api/v1/tokens' },
      },
    },
    security: [{ token: [] }, { cookie: [] }],
    paths,
  };
}
