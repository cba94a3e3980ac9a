export { ConfigError, loadEnvSource, resolveFileSettings, type EnvSource, type EnvSourceOptions } from './source';
export { bool, int, isCleanDirectory, oneOf, optionalDirectory, optionalStr, port, secret, str, url } from './fields';
export { defineServiceConfig, envPrefix, exitOnConfigError, loadConfigOrExit, redactConfig, type LogLevel, type ServiceConfigBase, type ServiceConfigDefinition } from './define';
export { createLogger, loggerFor, type Logger, type LoggerOptions } from './logger';
export {
  gatewayConfig,
  recoveryConfig,
  sessionManagerConfig,
  socketProxyConfig,
  whisperWorkerConfig,
  type RecoveryConfig,
  type SessionManagerConfig,
  type SessionNetworkingSettings,
} from './services';
export {
  BUILTIN_SESSION_TYPES,
  expandLaunch,
  expandTemplate,
  loadSessionTypes,
  SESSION_GUARD_PORT,
  type SessionLaunch,
  type TemplateValues, SessionTypeSchema, SessionTypesSchema, sessionType, withinLimits, type SessionTypeConfig, type SessionTypes } from './session-types';
export { nodeArgsFor } from './node-flags';
