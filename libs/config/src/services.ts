import { bool, int, optionalStr, port, secret, url } from './fields';
import { defineServiceConfig } from './define';

/** Where the Podman API is; all optional, discovered in libs/podman-client in the documented order. */
const podman = {
  CONTAINER_HOST: optionalStr(),
  DOCKER_HOST: optionalStr(),
  XDG_RUNTIME_DIR: optionalStr(),
};

const redis = { REDIS_URL: url(['redis', 'rediss'], 'redis://127.0.0.1:6379') };
const mongo = { MONGO_URI: url(['mongodb', 'mongodb+srv'], 'mongodb://127.0.0.1:27017/visp') };

/** Shared by the gateway and the services it calls; sent as `x-service-token`. */
const serviceToken = { SERVICE_TOKEN: secret(24) };

export const gatewayConfig = defineServiceConfig('gateway', {
  PORT: port(8080),
  ...redis,
  ...mongo,
  ...serviceToken,
  SESSION_MANAGER_URL: url(['http', 'https'], 'http://127.0.0.1:8020'),
});

export const sessionManagerConfig = defineServiceConfig('session-manager', {
  PORT: port(8020),
  ...redis,
  ...mongo,
  ...serviceToken,
  ...podman,
});

export const recoveryConfig = defineServiceConfig('recovery', {
  PORT: port(8030),
  ...redis,
  ...mongo,
  ...serviceToken,
  ...podman,
  /** Seconds between reconcile passes. */
  RECOVERY_INTERVAL: int({ min: 1, max: 86_400, default: 30 }),
  RECOVERY_DRY_RUN: bool(false),
});

export const whisperWorkerConfig = defineServiceConfig('whisper-worker', {
  PORT: port(8040),
  ...redis,
  ...mongo,
  WORKER_CONCURRENCY: int({ min: 1, max: 64, default: 1 }),
});

export const socketProxyConfig = defineServiceConfig('socket-proxy', {
  PORT: port(8050),
  ...podman,
});
