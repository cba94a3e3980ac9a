import type { Logger, SessionNetworkingSettings } from '@visp/config';
import { discoverPodman, PodmanClient, type DiscoveryOptions } from '@visp/podman-client';
import { sessionNetworking } from './network';
import { PodmanRuntime } from './podman-runtime';
import type { SessionRuntime } from './session-runtime';

export type SessionRuntimeSettings = SessionNetworkingSettings &
  DiscoveryOptions & {
    INSTANCE_ID: string;
    /** Local mode's session guard: read by the service that starts sessions. */
    SESSION_GUARD_BINARY?: string;
    PROJECT_REPOSITORIES_DIR?: string;
  };

/** The runtime a service's settings name: the one place that picks it (Podman, at CONTAINER_HOST or its usual socket). */
export function openSessionRuntime(settings: SessionRuntimeSettings, logger: Logger): SessionRuntime {
  return new PodmanRuntime(
    new PodmanClient(discoverPodman(settings)),
    { instance: settings.INSTANCE_ID, networking: sessionNetworking(settings), guardBinary: settings.SESSION_GUARD_BINARY, projectRepositories: settings.PROJECT_REPOSITORIES_DIR },
    logger.child({ part: 'runtime' }),
  );
}
