import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SessionLimitsSchema, SessionTypeNameSchema, type SessionLimits } from '@visp/contracts';
import { ConfigError } from './source';

/**
 * The port the session guard (tools/session-guard) listens on inside a local-mode session, the one published on
 * the host; the app's own port stays inside. No session type may use it, whatever the mode, so that a type works
 * in both.
 */
export const SESSION_GUARD_PORT = 8007;

/**
 * A session type is data, not code. Strings in `command`, `env`, `readinessPath` and `readinessHeaders` are
 * templates: `{baseUrl}` (`/s/<sid>/`), `{token}` (the per-session secret) and `{user}` (the owner).
 */
export const SessionTypeSchema = z
  .object({
    image: z.string().min(1),
    /** The port the app listens on inside the container. */
    port: z.number().int().min(1).max(65_535).refine((port) => port !== SESSION_GUARD_PORT, `${SESSION_GUARD_PORT} is the session guard's port`),
    /** Replaces the image's CMD. */
    command: z.array(z.string()).optional(),
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'environment names are upper case'), z.string()).default({}),
    user: z.string().regex(/^[1-9]\d*:[1-9]\d*$/, 'must be uid:gid, and not root').default('1000:1000'),
    /** Where the user's home volume is mounted. */
    homeDir: z.string().regex(/^\/[\w./-]*$/, 'must be an absolute path').default('/home/visp'),
    readinessPath: z.string().regex(/^(\/|\{baseUrl\})/, 'must start with / or {baseUrl}'),
    readinessHeaders: z.record(z.string(), z.string()).default({}),
    /** True when the app serves under `{baseUrl}` itself (Jupyter); false makes the gateway strip the prefix. */
    baseUrlAware: z.boolean(),
    /** How the app reports its own activity, beyond proxied traffic. */
    activity: z.enum(['none', 'jupyter']).default('none'),
    tmpfsMiB: z.number().int().min(16).max(65_536).default(256),
    /** On Kubernetes the app's root filesystem is read-only (its home and /tmp are its to write); true for an image whose app must write elsewhere. */
    writableRoot: z.boolean().default(false),
    limits: z
      .object({ default: SessionLimitsSchema, max: SessionLimitsSchema })
      .refine((l) => withinLimits(l.default, l.max), 'default limits must not exceed the maximum'),
  })
  .strict();
export type SessionTypeConfig = z.infer<typeof SessionTypeSchema>;

export const SessionTypesSchema = z
  .record(SessionTypeNameSchema, SessionTypeSchema)
  .refine((types) => Object.keys(types).length > 0, 'must define at least one session type');
export type SessionTypes = Readonly<Record<string, SessionTypeConfig>>;

/**
 * The type named `name`, looked up among the configured ones only: `types[name]` would also find what every object
 * inherits, so `constructor` or `toString` from a request would name a function instead of being unknown.
 */
export function sessionType(types: SessionTypes, name: string): SessionTypeConfig | undefined {
  return Object.hasOwn(types, name) ? types[name] : undefined;
}

export interface TemplateValues {
  baseUrl: string;
  token: string;
  user: string;
}

/** Replaces `{baseUrl}`, `{token}` and `{user}`; other braces are left as they are. */
export function expandTemplate(template: string, values: TemplateValues): string {
  return template.replace(/\{(baseUrl|token|user)\}/g, (_, key: keyof TemplateValues) => values[key]);
}

/** A type's templates filled in for one session: how to start its app and how to ask whether it is ready. */
export interface SessionLaunch {
  command?: string[];
  env: Record<string, string>;
  readinessPath: string;
  readinessHeaders: Record<string, string>;
}

export function expandLaunch(type: SessionTypeConfig, values: TemplateValues): SessionLaunch {
  const expandAll = (record: Record<string, string>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, expandTemplate(v, values)]));
  return {
    command: type.command?.map((part) => expandTemplate(part, values)),
    env: expandAll(type.env),
    readinessPath: expandTemplate(type.readinessPath, values),
    readinessHeaders: expandAll(type.readinessHeaders),
  };
}

export function withinLimits(limits: SessionLimits, max: SessionLimits): boolean {
  return limits.memoryMiB <= max.memoryMiB && limits.cpus <= max.cpus && limits.pids <= max.pids;
}

/** Built in: Jupyter (JupyterLab 4, Python and R kernels), RStudio (here, its offline stand-in) and VS Code (code-server). */
export const BUILTIN_SESSION_TYPES = Object.freeze({
  jupyter: SessionTypeSchema.parse({
    image: 'localhost/visp-session-jupyter:1',
    port: 8888,
    command: [
      'jupyter', 'lab', '--no-browser', '--ip=0.0.0.0', '--port=8888',
      '--ServerApp.base_url={baseUrl}', '--ServerApp.allow_remote_access=True', '--ServerApp.root_dir=/home/visp',
    ],
    // Through the environment, not the command line, so the token is not in `ps` output.
    env: { JUPYTER_TOKEN: '{token}' },
    readinessPath: '{baseUrl}api/status',
    readinessHeaders: { Authorization: 'token {token}' },
    baseUrlAware: true,
    activity: 'jupyter',
    limits: { default: { memoryMiB: 2048, cpus: 1, pids: 512 }, max: { memoryMiB: 8192, cpus: 4, pids: 2048 } },
  }),
  rstudio: SessionTypeSchema.parse({
    image: 'localhost/visp-session-rstudio-standin:1',
    port: 8787,
    readinessPath: '/',
    baseUrlAware: false,
    limits: { default: { memoryMiB: 2048, cpus: 1, pids: 512 }, max: { memoryMiB: 8192, cpus: 4, pids: 2048 } },
  }),
  // No authentication of its own, as RStudio's: only the gateway reaches it, for the session's owner alone (the
  // session guard or the session's own network). Served at the root: the gateway strips /s/<sid>, and code-server's
  // pages use relative URLs. Telemetry, update checks and the Workspace Trust prompt off: sessions have no way out.
  vscode: SessionTypeSchema.parse({
    image: 'localhost/visp-session-vscode:1',
    port: 8080,
    command: [
      'node', '/opt/code-server/node_modules/code-server/out/node/entry.js', '--bind-addr=0.0.0.0:8080', '--auth=none',
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened', '/home/visp',
    ],
    readinessPath: '/healthz',
    baseUrlAware: false,
    limits: { default: { memoryMiB: 2048, cpus: 1, pids: 512 }, max: { memoryMiB: 8192, cpus: 4, pids: 2048 } },
  }),
}) satisfies SessionTypes;

/** The built-in types, or those of `file` (JSON) instead; any mistake is one ConfigError line. */
export function loadSessionTypes(file: string | undefined): SessionTypes {
  if (!file) return BUILTIN_SESSION_TYPES;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const reason = err instanceof SyntaxError ? 'is not valid JSON' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    throw new ConfigError(`SESSION_TYPES_FILE ${file} ${reason}`);
  }
  const result = SessionTypesSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    // A bad record key comes wrapped; its own message says what a key must be.
    const message = issue?.code === 'invalid_key' ? issue.issues[0]?.message : issue?.message;
    throw new ConfigError(`SESSION_TYPES_FILE ${file}: ${issue?.path.join('.') || '(top level)'}: ${message ?? 'invalid'}`);
  }
  return Object.freeze(result.data);
}
