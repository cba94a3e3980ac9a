import { z } from 'zod';
import { isSecret, list, logLevel, oneOf, int, str } from './fields';
import { ConfigError, loadEnvSource, resolveFileSettings, type EnvSource, type EnvSourceOptions } from './source';

type Shape = Record<string, z.ZodType>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings every service has. */
const commonShape = {
  NODE_ENV: oneOf(['development', 'test', 'production'], 'development'),
  /** Tags every container this deployment creates (`visp.instance`); two instances never touch each other's. */
  INSTANCE_ID: str('dev').pipe(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and -')),
  HOST: str('127.0.0.1'),
  /** Besides loopback, the peers (CIDRs) that may read /readyz and /metrics: the host's checks and scrapers. */
  OPERATIONS_CIDRS: list(),
  LOG_LEVEL: logLevel(),
  LOG_FORMAT: oneOf(['json', 'pretty'], 'json'),
  /** How long a graceful shutdown may drain before connections are cut. */
  SHUTDOWN_TIMEOUT_MS: int({ min: 0, max: 600_000, default: 10_000 }),
};

export interface ServiceConfigBase {
  readonly component: string;
  /** `<COMPONENT>_LOG_LEVEL` when set, else `LOG_LEVEL`. */
  readonly logLevel: LogLevel;
}

export interface ServiceConfigDefinition<S extends Shape> {
  readonly component: string;
  readonly shape: S & typeof commonShape;
  /** Resolves `NAME_FILE` for its settings and parses; throws {@link ConfigError} naming the first bad setting. */
  parse(source: EnvSource): Readonly<z.infer<z.ZodObject<S & typeof commonShape>> & ServiceConfigBase>;
  /** Reads `.env`, `.env.secrets`, `*_FILE` and the environment, then parses. */
  load(options?: EnvSourceOptions): Readonly<z.infer<z.ZodObject<S & typeof commonShape>> & ServiceConfigBase>;
}

/** `session-manager` → `SESSION_MANAGER`. */
export const envPrefix = (component: string) => component.toUpperCase().replace(/[^A-Z0-9]+/g, '_');

export function defineServiceConfig<S extends Shape>(component: string, fields: S): ServiceConfigDefinition<S> {
  const componentLevelKey = `${envPrefix(component)}_LOG_LEVEL`;
  const shape = { ...commonShape, ...fields };
  const schema = z.object(shape);
  const componentLevel = z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional();

  const parse = (raw: EnvSource) => {
    const source = resolveFileSettings(raw, [...Object.keys(shape), componentLevelKey]);
    const result = schema.safeParse(source);
    if (!result.success) {
      const issue = result.error.issues[0];
      const key = String(issue?.path[0] ?? '?');
      throw new ConfigError(`${key} ${issue?.message ?? 'is invalid'}`);
    }
    const level = componentLevel.safeParse(source[componentLevelKey] || undefined);
    if (!level.success) throw new ConfigError(`${componentLevelKey} ${level.error.issues[0]?.message}`);
    return Object.freeze({ ...result.data, component, logLevel: level.data ?? (result.data as { LOG_LEVEL: LogLevel }).LOG_LEVEL }) as Readonly<
      z.infer<z.ZodObject<S & typeof commonShape>> & ServiceConfigBase
    >;
  };

  return { component, shape: shape as S & typeof commonShape, parse, load: (options) => parse(loadEnvSource(options)) };
}

/** The config as safe to show: every secret replaced by `[redacted]`. */
export function redactConfig(definition: { shape: Shape }, config: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => {
      const field = definition.shape[key];
      return [key, field && isSecret(field) && value !== undefined ? '[redacted]' : value];
    }),
  );
}

/** For `main.ts`: runs `load`, or prints its ConfigError as one line and exits 2. A stack trace fixes no setting. */
export function exitOnConfigError<T>(component: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${component}: config error: ${err.message}\n`);
    process.exit(2);
  }
}

export function loadConfigOrExit<S extends Shape>(definition: ServiceConfigDefinition<S>, options?: EnvSourceOptions) {
  return exitOnConfigError(definition.component, () => definition.load(options));
}
